package azure

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/binary"
	"io"
	"sync"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/streaming"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/blockblob"

	"github.com/tideline-ml/tideline/provider"
)

type blockblobCommitOptions = blockblob.CommitBlockListOptions

// blockID names block i of one upload. The IDs of an upload share a random
// prefix, so that concurrent uploads of one version never stage over each
// other's blocks (the service keeps uncommitted blocks per blob and ID), and
// all have the same length, as the service requires.
func blockID(nonce *[16]byte, i int) string {
	var b [24]byte
	copy(b[:], nonce[:])
	binary.BigEndian.PutUint64(b[16:], uint64(i))
	return base64.StdEncoding.EncodeToString(b[:])
}

// stageBlocks reads content to io.EOF in blocks of p.blockSize and stages
// each, up to p.concurrency at once, and returns the block IDs in order.
// Memory is bounded: the upload holds at most p.concurrency buffers, and
// the reader waits for a buffer to come back before reading on. The
// content's digest is computed by the same reads. Staged blocks stay
// invisible; after a failure they are left for the service to discard
// (uncommitted blocks are garbage-collected after a week).
func (p *Provider) stageBlocks(ctx context.Context, bb *blockblob.Client, content *provider.Content) ([]string, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var nonce [16]byte
	if _, err := rand.Read(nonce[:]); err != nil {
		return nil, provider.Errorf(provider.Internal, "azure: drawing an upload id: %v", err)
	}
	slots := make(chan *[]byte, p.concurrency)
	for range p.concurrency {
		slots <- nil // a buffer is taken from the pool when first needed
	}
	var (
		wg       sync.WaitGroup
		once     sync.Once
		firstErr error
		ids      []string
	)
	fail := func(err error) {
		once.Do(func() { firstErr = err; cancel() })
	}
	what := "staging a block of dataset " + bb.URL()[len(p.containerC.URL())+1:]
read:
	for i := 0; ; i++ {
		var buf *[]byte
		select {
		case buf = <-slots:
		case <-ctx.Done():
			break read
		}
		if buf == nil {
			buf = p.buffers.Get().(*[]byte)
		}
		n, rerr := io.ReadFull(content, *buf)
		if rerr != nil && rerr != io.EOF && rerr != io.ErrUnexpectedEOF {
			slots <- buf
			fail(provider.Errorf(provider.CodeOf(rerr), "azure: reading the dataset's content: %w", rerr))
			break
		}
		if n > 0 {
			if i >= maxBlocks {
				slots <- buf
				fail(provider.Errorf(provider.InvalidArgument, "azure: the content is larger than %d blocks of %d bytes, the most one blob holds; raise Config.BlockSize", maxBlocks, p.blockSize))
				break
			}
			id := blockID(&nonce, i)
			ids = append(ids, id)
			wg.Go(func() {
				defer func() { slots <- buf }()
				body := streaming.NopCloser(bytes.NewReader((*buf)[:n]))
				if _, err := bb.StageBlock(ctx, id, body, nil); err != nil {
					fail(mapError(op{what: what}, err))
				}
			})
		} else {
			slots <- buf
		}
		if rerr != nil { // io.EOF or io.ErrUnexpectedEOF: the content is done
			break
		}
	}
	wg.Wait()
	for range p.concurrency {
		if b := <-slots; b != nil {
			p.buffers.Put(b)
		}
	}
	if firstErr != nil {
		return nil, firstErr
	}
	if err := ctx.Err(); err != nil {
		return nil, mapError(op{what: what}, err)
	}
	return ids, nil
}
