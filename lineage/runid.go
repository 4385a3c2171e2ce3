package lineage

import (
	"crypto/sha1"
	"encoding/hex"
	"net/url"
)

// urlNamespace is the RFC 9562 namespace for name-based UUIDs whose names
// are URLs.
var urlNamespace = [16]byte{0x6b, 0xa7, 0xb8, 0x11, 0x9d, 0xad, 0x11, 0xd1, 0x80, 0xb4, 0x00, 0xc0, 0x4f, 0xd4, 0x30, 0xc8}

// runNameBase prefixes the URL that names a run inside urlNamespace.
const runNameBase = "https://github.com/tideline-ml/tideline/lineage/runs/"

// RunID returns the OpenLineage runId of the run runName in job namespace
// namespace: a version 5 (SHA-1, name-based) UUID of a URL built from both.
// Deriving it instead of drawing it at random lets every process that
// reports on the run — the one that submits it and the one that sees it
// finish — agree on the id without sharing state, and makes a retried
// START land on the same run.
func RunID(namespace, runName string) string {
	return uuidV5(urlNamespace, runNameBase+url.PathEscape(namespace)+"/"+url.PathEscape(runName))
}

func uuidV5(ns [16]byte, name string) string {
	h := sha1.New()
	h.Write(ns[:])
	h.Write([]byte(name))
	var u [16]byte
	copy(u[:], h.Sum(nil))
	u[6] = u[6]&0x0f | 0x50 // version 5
	u[8] = u[8]&0x3f | 0x80 // RFC 4122 variant
	var b [36]byte
	hex.Encode(b[0:8], u[0:4])
	b[8] = '-'
	hex.Encode(b[9:13], u[4:6])
	b[13] = '-'
	hex.Encode(b[14:18], u[6:8])
	b[18] = '-'
	hex.Encode(b[19:23], u[8:10])
	b[23] = '-'
	hex.Encode(b[24:], u[10:])
	return string(b[:])
}
