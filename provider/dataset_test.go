package provider_test

import (
	"crypto/sha256"
	"fmt"
	"io"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/stretchr/testify/require"

	"github.com/tideline-ml/tideline/provider"
)

func TestContentHashesAsItIsRead(t *testing.T) {
	body := strings.Repeat("0123456789", 10000)
	var seen []int64
	c := provider.NewContent(iotest.OneByteReader(strings.NewReader(body[:10])), nil)
	_, err := io.ReadAll(c)
	require.NoError(t, err)
	require.True(t, c.Done())

	c = provider.NewContent(strings.NewReader(body), func(n int64) { seen = append(seen, n) })
	require.False(t, c.Done())
	got, err := io.ReadAll(c)
	require.NoError(t, err)
	require.Equal(t, body, string(got))
	require.True(t, c.Done())
	require.Equal(t, int64(len(body)), c.Size())
	require.Equal(t, fmt.Sprintf("sha256:%x", sha256.Sum256([]byte(body))), c.Digest())
	require.Equal(t, int64(len(body)), seen[len(seen)-1])
	for i := 1; i < len(seen); i++ {
		require.Greater(t, seen[i], seen[i-1])
	}
}

func TestContentDrain(t *testing.T) {
	c := provider.NewContent(strings.NewReader("hello world"), nil)
	buf := make([]byte, 5)
	_, err := io.ReadFull(c, buf)
	require.NoError(t, err)
	require.NoError(t, c.Drain())
	require.Equal(t, fmt.Sprintf("sha256:%x", sha256.Sum256([]byte("hello world"))), c.Digest())
	require.NoError(t, c.Drain(), "draining twice is harmless")

	c = provider.NewContent(iotest.ErrReader(io.ErrUnexpectedEOF), nil)
	require.ErrorIs(t, c.Drain(), io.ErrUnexpectedEOF)
}
