package uuidtext

import "testing"

func TestValid(t *testing.T) {
	for s, want := range map[string]bool{
		"3f2504e0-4f89-11d3-9a0c-0305e82c3301": true,
		"3F2504E0-4F89-11D3-9A0C-0305E82C3301": true,
		"3f2504e0-4f89-11d3-9a0c-0305e82c330":  false,
		"3f2504e0x4f89-11d3-9a0c-0305e82c3301": false,
		"3f2504e0-4f89-11d3-9a0c-0305e82c330g": false,
		"":                                     false,
	} {
		if got := Valid(s); got != want {
			t.Errorf("Valid(%q) = %v, want %v", s, got, want)
		}
	}
}
