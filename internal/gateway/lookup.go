package gateway

import (
	"encoding/json"

	"mcpwarden/internal/pipeline"
)

// lookup is the gateway's [pipeline.Catalog]: what controls may ask about
// the upstream servers while deciding about a call.
type lookup struct{ g *Gateway }

var _ pipeline.Catalog = lookup{}

// Tool returns the tool's definition as its server listed it. The catalog
// fingerprint of a registered tool is exactly that JSON, so no encoding
// happens per call; tools the gateway withheld (invalid names or schemas)
// have none and are reported missing.
func (l lookup) Tool(server, name string) (json.RawMessage, bool) {
	b, ok := l.g.backend(server)
	if !ok {
		return nil, false
	}
	b.refreshMu.Lock()
	fp, ok := b.cat.toolFP[name]
	b.refreshMu.Unlock()
	if !ok || fp == "" {
		return nil, false
	}
	return json.RawMessage(fp), true
}

// Resolve splits a downstream tool or prompt name.
func (l lookup) Resolve(name string) (server, upstream string, ok bool) {
	return l.g.split(name)
}

// Owner returns the server that listed a resource or template.
func (l lookup) Owner(uri string) string { return l.g.resourceOwner(uri) }
