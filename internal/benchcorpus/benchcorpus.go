// Package benchcorpus generates the deterministic, realistic tool-output
// text (JSON API responses, logs, HTML, source code) that the detection
// and secret-scanning benchmarks run on, so that mcpwarden's detectors
// and gitleaks are measured on the same input.
package benchcorpus

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"strings"
)

// Text builds about n bytes of realistic tool-result text: JSON API
// responses, log lines, an HTML page and source code, deterministic so
// runs compare. It is the same input the gitleaks comparison uses
// (internal/secrets/gitleaksbench).
func Text(n int) string {
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
	alnum := func(k int, alphabet string) string {
		out := make([]byte, k)
		for i := range out {
			out[i] = alphabet[r.IntN(len(alphabet))]
		}
		return string(out)
	}
	const upperDigits, mixed = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567", "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
	for i := 0; b.Len() < n; i++ {
		if i%16 == 15 { // now and then, a config dump with credentials in it
			fmt.Fprintf(&b, "AWS_ACCESS_KEY_ID=AKIA%s\nGITHUB_TOKEN=ghp_%s\nDATABASE_URL=postgres://app:%s@db.internal:5432/app\napi_key = \"%s\"\n",
				alnum(16, upperDigits), alnum(36, mixed), alnum(14, mixed), alnum(32, mixed))
			continue
		}
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
