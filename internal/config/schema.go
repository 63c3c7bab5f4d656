package config

import _ "embed"

//go:embed schema.json
var schema []byte

// Schema returns the JSON Schema (2020-12) of the configuration file, for
// editors and CI linters. [Parse] is the authority: it checks everything
// the schema says and more (collisions, URLs, names containing the
// separator).
func Schema() []byte { return append([]byte(nil), schema...) }
