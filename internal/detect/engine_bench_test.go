package detect

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
)

// benchCorpus builds about n bytes of realistic tool-result text: JSON API
// responses, log lines, an HTML page and source code, deterministic so
// runs compare. It is the same input the gitleaks comparison uses
// (internal/secrets/gitleaksbench).
func benchCorpus(n int) string {
	r := rand.New(rand.NewPCG(1, 2))
	words := strings.Fields("the of and to in is for on that with as was by it this be are from at or an have not " +
		"server request response user account order invoice payment status error warning config value table column " +
		"deploy build release version update cache query result timeout retry connection session token page item")
	word := func() string { return words[r.IntN(len(words))] }
	sentence := func(k int) string {
		var b strings.Builder
		for i := range k {
			if i > 0 {
				b.WriteByte(' ')
			}
			b.WriteString(word())
		}
		return b.String()
	}
	var b strings.Builder
	for i := 0; b.Len() < n; i++ {
		switch i % 4 {
		case 0: // JSON
			items := make([]map[string]any, 20)
			for j := range items {
				items[j] = map[string]any{"id": r.Int64(), "name": sentence(3), "email": fmt.Sprintf("user%d@example.com", r.IntN(1000)),
					"created_at": "2024-05-01T12:00:00Z", "tags": []string{word(), word()}, "score": r.Float64(), "active": r.IntN(2) == 0,
					"description": sentence(12), "url": fmt.Sprintf("https://api.example.com/v1/items/%d?page=%d", r.IntN(1e6), r.IntN(50))}
			}
			j, _ := json.MarshalIndent(map[string]any{"data": items, "next": "eyJwYWdlIjoyfQ"}, "", "  ")
			b.Write(j)
		case 1: // logs
			for k := range 40 {
				fmt.Fprintf(&b, "2024-05-01T12:%02d:%02d.%03dZ %s [%s] req_id=%08x path=/api/v1/%s status=%d dur=%dms %s\n",
					k%60, r.IntN(60), r.IntN(1000), []string{"INFO", "WARN", "ERROR", "DEBUG"}[r.IntN(4)], word(), r.Uint32(), word(), 200+r.IntN(300), r.IntN(900), sentence(8))
			}
		case 2: // HTML
			b.WriteString("<!DOCTYPE html><html><head><title>" + sentence(4) + "</title><meta charset=\"utf-8\"><link rel=\"stylesheet\" href=\"/static/app.css\"></head><body>\n")
			for range 15 {
				fmt.Fprintf(&b, "<div class=\"card\"><h2>%s</h2><p>%s. %s.</p><a href=\"https://www.example.org/%s\">%s</a>&nbsp;&middot;&nbsp;<span class=\"muted\">%d comments</span></div>\n",
					sentence(4), sentence(25), sentence(18), word(), sentence(2), r.IntN(100))
			}
			b.WriteString("</body></html>\n")
		case 3: // code
			for k := range 6 {
				fmt.Fprintf(&b, "// %s handles %s.\nfunc handle%d(ctx context.Context, req *Request) (*Response, error) {\n\tif req.ID == \"\" {\n\t\treturn nil, fmt.Errorf(\"%s: missing id\")\n\t}\n\trows, err := db.QueryContext(ctx, \"SELECT id, name FROM items WHERE owner = $1 LIMIT 50\", req.Owner)\n\tif err != nil {\n\t\treturn nil, err\n\t}\n\tdefer rows.Close()\n\tfor rows.Next() {\n\t\tlog.Printf(\"%%s %%d\", req.ID, %d)\n\t}\n\treturn &Response{Status: %d}, nil\n}\n\n",
					word(), sentence(6), k, sentence(3), r.IntN(99), 200)
			}
		}
	}
	return b.String()[:n]
}

// BenchmarkInspectResult measures result-text throughput with every
// detector on (the hot path of the gateway).
func BenchmarkInspectResult(b *testing.B) {
	e := testEngine(b)
	text := benchCorpus(1 << 20)
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
	corpus := benchCorpus(1 << 20)
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
	text := benchCorpus(256 << 10)
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
