package flowlabel

import (
	"encoding/json"
	"testing"
)

func TestLabel(t *testing.T) {
	yes, no := true, false
	type ann struct {
		ReadOnly  *bool `json:"readOnlyHint,omitempty"`
		OpenWorld *bool `json:"openWorldHint,omitempty"`
	}
	tests := []struct {
		name, desc            string
		params                []string
		ann                   *ann
		source, private, sink bool
	}{
		{name: "get_ticket", desc: "Read a support ticket", params: []string{"id"}, ann: &ann{ReadOnly: &yes}, source: true},
		{name: "list_tickets", ann: &ann{ReadOnly: &yes}, source: true},
		{name: "read_file", params: []string{"path"}, ann: &ann{ReadOnly: &yes}, private: true},
		{name: "debug_info", ann: &ann{ReadOnly: &yes}, private: true},
		{name: "get_user", params: []string{"user_id"}, ann: &ann{ReadOnly: &yes}, private: true},
		{name: "send_email", params: []string{"to", "body"}, ann: &ann{OpenWorld: &yes}, sink: true},
		{name: "fetch_url", params: []string{"url"}, ann: &ann{ReadOnly: &yes, OpenWorld: &yes}, source: true, sink: true},
		{name: "createIssueComment", params: []string{"body"}, sink: true, source: false},
		{name: "add", params: []string{"a", "b"}},
		{name: "word_count", params: []string{"text"}},
		{name: "get_weather", params: []string{"city"}, ann: &ann{ReadOnly: &yes, OpenWorld: &yes}, source: true},
		{name: "query_db", params: []string{"sql"}, ann: &ann{OpenWorld: &no}, private: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			props := map[string]any{}
			for _, p := range tt.params {
				props[p] = map[string]any{"type": "string"}
			}
			def := map[string]any{"name": tt.name, "description": tt.desc, "inputSchema": map[string]any{"type": "object", "properties": props}}
			if tt.ann != nil {
				def["annotations"] = tt.ann
			}
			raw, _ := json.Marshal(def)
			l := Label(raw)
			if (l.Source != "") != tt.source || (l.Private != "") != tt.private || (l.Sink != "") != tt.sink {
				t.Errorf("Label(%s) = %+v, want source=%v private=%v sink=%v", tt.name, l, tt.source, tt.private, tt.sink)
			}
		})
	}
}

func TestWords(t *testing.T) {
	got := Words("createIssue_comment-v2.now")
	want := []string{"create", "issue", "comment", "v2", "now"}
	if len(got) != len(want) {
		t.Fatalf("Words = %q, want %q", got, want)
	}
	for i := range got {
		if got[i] != want[i] {
			t.Fatalf("Words = %q, want %q", got, want)
		}
	}
	if l := Label([]byte("not json")); l.Any() {
		t.Errorf("Label(garbage) = %+v, want none", l)
	}
}
