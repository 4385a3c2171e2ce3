package lineage

import (
	"embed"
	"io/fs"
	"strings"
)

// Custom facet schemas live under schemas/<version>/ and are published at
// schemaBaseURL plus the same relative path. A file under a version
// directory is never edited once released: a changed facet gets a new
// version directory and a new schema URL, so every _schemaURL ever written
// keeps naming the schema it was valid against.
const schemaBaseURL = "https://raw.githubusercontent.com/tideline-ml/tideline/main/lineage/schemas/"

//go:embed schemas
var schemaFiles embed.FS

// FacetSchemas returns the JSON Schema files of this package's custom
// facets, keyed by their $id URL (the part of the facet's _schemaURL before
// the '#'). They refer to the OpenLineage 2-0-2 core schema by its $id, so a
// validator needs that schema registered too. The map is fresh on each call.
func FacetSchemas() map[string][]byte {
	out := make(map[string][]byte)
	for _, u := range []string{ResidencyDatasetFacetSchemaURL, PolicyRunFacetSchemaURL} {
		id, _, _ := strings.Cut(u, "#")
		b, err := fs.ReadFile(schemaFiles, "schemas/"+strings.TrimPrefix(id, schemaBaseURL))
		if err != nil {
			// The files are embedded at build time; a miss is a build defect
			// that TestCustomSchemaFiles catches.
			panic("lineage: embedded facet schema missing for " + id)
		}
		out[id] = b
	}
	return out
}
