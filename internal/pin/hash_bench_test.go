package pin

import (
	"encoding/json"
	"testing"
)

// BenchmarkHashTool is the hot path: hashing one listed tool, as the
// gateway does for every tools/list.
func BenchmarkHashTool(b *testing.B) {
	raw := []byte(baseTool)
	var h Hasher
	b.SetBytes(int64(len(raw)))
	b.ReportAllocs()
	for b.Loop() {
		if _, _, err := h.Sum(raw); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkPin100Tools(b *testing.B) {
	tools := make([]json.RawMessage, 100)
	for i := range tools {
		var m map[string]any
		_ = json.Unmarshal([]byte(baseTool), &m)
		m["name"] = "tool_" + string(rune('a'+i%26)) + string(rune('a'+i/26))
		tools[i], _ = json.Marshal(m)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Pin(Snapshot{Identity: Identity{Key: "k"}, Tools: tools}); err != nil {
			b.Fatal(err)
		}
	}
}
