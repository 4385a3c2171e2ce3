package secret_test

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"os"

	"github.com/tideline-ml/tideline/secret"
)

// A Secret prints as [REDACTED] however it is formatted or encoded.
func ExampleSecret() {
	sas := secret.NewSecret("sv=2024-11-04&sig=c2VjcmV0")
	grant := struct {
		Container string
		SAS       secret.Secret
	}{"claims", sas}
	fmt.Println(sas)
	fmt.Printf("%+v\n", grant)
	b, _ := json.Marshal(grant)
	fmt.Println(string(b))
	logger := slog.New(slog.NewTextHandler(os.Stdout, &slog.HandlerOptions{
		ReplaceAttr: func(_ []string, a slog.Attr) slog.Attr {
			if a.Key == slog.TimeKey {
				return slog.Attr{}
			}
			return a
		},
	}))
	logger.Info("granted", "sas", sas)
	fmt.Println(sas.Reveal() == "sv=2024-11-04&sig=c2VjcmV0")
	// Output:
	// [REDACTED]
	// {Container:claims SAS:[REDACTED]}
	// {"Container":"claims","SAS":"[REDACTED]"}
	// level=INFO msg=granted sas=[REDACTED]
	// true
}

// Redact removes known secrets from free text, such as an error message
// quoting a URL, also where the value appears URL-escaped.
func ExampleRedact() {
	sig := secret.NewSecret("c2VjcmV0+/=")
	msg := "GET https://acct.blob.core.windows.net/claims?sig=c2VjcmV0%2B%2F%3D: 403"
	fmt.Println(secret.Redact(msg, sig))
	// Output:
	// GET https://acct.blob.core.windows.net/claims?sig=[REDACTED]: 403
}

// A Redactor applies the same secrets to many strings.
func ExampleRedactor() {
	r := secret.NewRedactor(secret.NewSecret("account-key-1"), secret.NewSecret("hunter2"))
	for _, line := range []string{"key account-key-1 rejected", "password hunter2 expired", "nothing here"} {
		fmt.Println(r.Redact(line))
	}
	// Output:
	// key [REDACTED] rejected
	// password [REDACTED] expired
	// nothing here
}

// Scrub removes what looks like a credential, without knowing its value.
func ExampleScrub() {
	for _, msg := range []string{
		"GET https://acct.blob.core.windows.net/claims/v1?sv=2024-11-04&sig=Zm9v: 403",
		"fetch https%3A%2F%2Facct.blob.core.windows.net%2Fclaims%3Fsig%3DZm9v failed",
		"job env: HF_TOKEN=hf_abc DB_PASSWORD=hunter2 EPOCHS=3",
		`400 Bad Request: {"user": "bob", "client_secret": "s3cr3t"}`,
		"Authorization: Basic dXNlcjpodW50ZXIy",
		"AccountName=acct;AccountKey=bXlrZXk=;EndpointSuffix=core.windows.net",
	} {
		fmt.Println(secret.Scrub(msg))
	}
	// Output:
	// GET https://acct.blob.core.windows.net/claims/v1?[REDACTED]: 403
	// fetch https%3A%2F%2Facct.blob.core.windows.net%2Fclaims%3F[REDACTED] failed
	// job env: HF_TOKEN=[REDACTED] DB_PASSWORD=[REDACTED] EPOCHS=3
	// 400 Bad Request: {"user": "bob", "client_secret": "[REDACTED]"}
	// Authorization: Basic [REDACTED]
	// AccountName=acct;AccountKey=[REDACTED];EndpointSuffix=core.windows.net
}
