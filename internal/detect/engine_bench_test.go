package detect

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"mcpwarden/internal/benchcorpus"
)

// BenchmarkInspectResult measures result-text throughput with every
// detector on (the hot path of the gateway).
func BenchmarkInspectResult(b *testing.B) {
	e := testEngine(b)
	text := benchcorpus.Text(1 << 20)
	b.SetBytes(int64(len(text)))
	b.ReportAllocs()
	for b.Loop() {
		e.InspectText(Result, text)
	}
}

// BenchmarkInspectResultSmall is the same on 4 KiB results, the typical
// size of one tool call's output.
func BenchmarkInspectResultSmall(b *testing.B) {
	e := testEngine(b)
	corpus := benchcorpus.Text(1 << 20)
	chunks := make([]string, 0, 256)
	for i := 0; i+4096 <= len(corpus); i += 4096 {
		chunks = append(chunks, corpus[i:i+4096])
	}
	b.SetBytes(4096)
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		e.InspectText(Result, chunks[i%len(chunks)])
		i++
	}
}

// BenchmarkInspectResultJSON measures a tools/call result walked as JSON.
func BenchmarkInspectResultJSON(b *testing.B) {
	e := testEngine(b)
	text := benchcorpus.Text(256 << 10)
	raw, _ := json.Marshal(map[string]any{"content": []map[string]string{{"type": "text", "text": text}}, "isError": false})
	b.SetBytes(int64(len(raw)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := e.InspectResult(raw); err != nil {
			b.Fatal(err)
		}
	}
}

// benchTools are realistic tool definitions of several sizes.
func benchTools() [][]byte {
	var out [][]byte
	for i := range 16 {
		props := map[string]any{}
		for j := range 2 + i%6 {
			props[fmt.Sprintf("param_%d", j)] = map[string]any{
				"type": "string", "description": fmt.Sprintf("The %d-th input: a file path, query or identifier the tool uses to find records in the remote service.", j),
			}
		}
		props["mode"] = map[string]any{"type": "string", "enum": []string{"fast", "accurate", "balanced"}, "default": "balanced", "description": "Search mode."}
		props["options"] = map[string]any{"type": "object", "properties": map[string]any{
			"limit": map[string]any{"type": "integer", "description": "Maximum number of results to return (1-100)."},
			"sort":  map[string]any{"type": "string", "description": "Sort order: relevance, date or name."},
		}}
		tool := map[string]any{
			"name":  fmt.Sprintf("search_records_%d", i),
			"title": "Search records",
			"description": "Search the record store for entries matching a query. Returns up to `limit` results with their ids, titles and timestamps. " +
				"Use this tool when the user asks about existing records; use create_record to add new ones. IMPORTANT: dates are UTC. " + strings.Repeat("Results are paginated; pass the cursor from the previous response to get the next page. ", i%4),
			"inputSchema":  map[string]any{"type": "object", "properties": props, "required": []string{"param_0"}},
			"outputSchema": map[string]any{"type": "object", "properties": map[string]any{"items": map[string]any{"type": "array", "description": "Matching records."}}},
			"annotations":  map[string]any{"title": "Search records", "readOnlyHint": true},
		}
		raw, _ := json.Marshal(tool)
		out = append(out, raw)
	}
	return out
}

// BenchmarkInspectTool measures tool definitions per second (the scanner
// path, and the gateway on every tools/list).
func BenchmarkInspectTool(b *testing.B) {
	e := testEngine(b)
	tools := benchTools()
	total := 0
	for _, t := range tools {
		total += len(t)
	}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		if _, err := e.InspectTool(tools[i%len(tools)]); err != nil {
			b.Fatal(err)
		}
		i++
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "tools/s")
	b.ReportMetric(float64(total/len(tools)), "bytes/tool")
}
