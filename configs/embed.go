// Package configs holds the example configuration and scheduling recipes.
// The example configuration is embedded so `backup-creator config init`
// writes exactly the documented template.
package configs

import _ "embed"

// ExampleConfig is backup-creator.example.yaml: every key, commented.
//
//go:embed backup-creator.example.yaml
var ExampleConfig []byte
