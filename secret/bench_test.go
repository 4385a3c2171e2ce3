package secret

import (
	"strings"
	"testing"
)

// BenchmarkScrub measures Scrub on an error message without a credential (the
// common case), one with several, and a 64 KiB job log.
func BenchmarkScrub(b *testing.B) {
	plain := `provider azure: PutDataset claims@3 in westeurope: the service answered 503 (ServerBusy); retry later`
	leaky := `GET https://acct.blob.core.windows.net/claims/v3?sv=2024-11-04&sp=rl&sig=Zm9vYmFy: 403; ` +
		`env HF_TOKEN=hf_abcdef DB_PASSWORD=hunter2; body {"client_secret": "s3cr3t"}; Authorization: Basic dXNlcjpw`
	var log strings.Builder
	for log.Len() < 64<<10 {
		log.WriteString("epoch 3 step 1200 loss=0.4312 lr=0.0003 gpu_mem=71.2GiB elapsed: 00:41:17\n")
	}
	for _, bc := range []struct{ name, in string }{{"plain", plain}, {"leaky", leaky}, {"log-64KiB", log.String()}} {
		b.Run(bc.name, func(b *testing.B) {
			b.SetBytes(int64(len(bc.in)))
			b.ReportAllocs()
			for b.Loop() {
				Scrub(bc.in)
			}
		})
	}
}

// BenchmarkRedact measures Redact with two known secrets.
func BenchmarkRedact(b *testing.B) {
	r := NewRedactor(NewSecret("Zm9v+YmFy/YmF6=="), NewSecret("account-key-0123456789"))
	in := "GET https://a.blob.core.windows.net/c?sv=2024-11-04&sig=Zm9v%2BYmFy%2FYmF6%3D%3D failed: 403"
	b.ReportAllocs()
	for b.Loop() {
		r.Redact(in)
	}
}
