package mcptext

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
)

const tool = `{"name":"add","description":"Adds <b>numbers</b>","inputSchema":{"type":"object","$schema":"x",
"properties":{"a":{"type":"number","description":"first"},"mode":{"type":"string","enum":["fast","slow"],"default":"fast","pattern":"^x$"}},
"required":["a"]},"annotations":{"title":"Adder","readOnlyHint":true},"n":1.50}`

func TestFields(t *testing.T) {
	want := []Field{
		{"annotations.title", "Adder"},
		{"description", "Adds <b>numbers</b>"},
		{"inputSchema.properties.a.description", "first"},
		{"inputSchema.properties.mode.default", "fast"},
		{"inputSchema.properties.mode.enum[0]", "fast"},
		{"inputSchema.properties.mode.enum[1]", "slow"},
		{"name", "add"},
	}
	got, err := Fields([]byte(tool), "", Limits{})
	if err != nil {
		t.Fatal(err)
	}
	sortFields(got)
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Fields = %v, want %v", got, want)
	}
	doc, err := Decode([]byte(tool))
	if err != nil {
		t.Fatal(err)
	}
	got2, err := FieldsOf(doc, "", Limits{})
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got2, want) {
		t.Errorf("FieldsOf = %v, want %v", got2, want)
	}
}

func sortFields(fs []Field) {
	for i := range fs {
		for j := i + 1; j < len(fs); j++ {
			if fs[j].Path < fs[i].Path {
				fs[i], fs[j] = fs[j], fs[i]
			}
		}
	}
}

func TestRewrite(t *testing.T) {
	out, err := Rewrite([]byte(tool), Limits{}, func(path, s string) (string, bool) {
		if path == "description" {
			return strings.ToUpper(s), true
		}
		return s, false
	})
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(out, &m); err != nil {
		t.Fatalf("Rewrite output invalid: %v\n%s", err, out)
	}
	if m["description"] != "ADDS <B>NUMBERS</B>" || !strings.Contains(string(out), `"n":1.50`) || !strings.HasPrefix(string(out), `{"name":"add"`) {
		t.Errorf("Rewrite = %s", out)
	}
	same, _ := Rewrite([]byte(tool), Limits{}, func(string, string) (string, bool) { return "", false })
	if string(same) != tool {
		t.Errorf("Rewrite without changes did not return the input")
	}
}

func TestLimits(t *testing.T) {
	deep := strings.Repeat("[", 100) + strings.Repeat("]", 100)
	if _, err := Fields([]byte(deep), "", Limits{}); err != ErrTooDeep {
		t.Errorf("Fields(deep) = %v, want ErrTooDeep", err)
	}
	doc, _ := Decode([]byte(deep))
	if _, err := FieldsOf(doc, "", Limits{}); err != ErrTooDeep {
		t.Errorf("FieldsOf(deep) = %v, want ErrTooDeep", err)
	}
	many := "[" + strings.Repeat(`"x",`, 20) + `"x"]`
	if _, err := Fields([]byte(many), "", Limits{MaxFields: 5}); err != ErrTooMany {
		t.Errorf("Fields(many) = %v, want ErrTooMany", err)
	}
	for _, bad := range []string{`{"a":`, `{"a":1} {}`, `[1,]`, ``} {
		if _, err := Fields([]byte(bad), "", Limits{}); err == nil {
			t.Errorf("Fields(%q) = nil error", bad)
		}
		if _, err := Decode([]byte(bad)); err == nil {
			t.Errorf("Decode(%q) = nil error", bad)
		}
	}
}

func FuzzRewrite(f *testing.F) {
	for _, s := range []string{tool, `{}`, `[]`, `"x"`, `{"a":{"b":["c",1,null,true]}}`, `{"a":"\u003c"}`, `{"a":1e400}`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		out, err := Rewrite([]byte(s), Limits{}, func(_, v string) (string, bool) { return v + "!", true })
		if err != nil {
			return
		}
		if !json.Valid(out) {
			t.Fatalf("Rewrite(%q) = %q, invalid JSON", s, out)
		}
		a, errA := Fields([]byte(s), "", Limits{})
		doc, errD := Decode([]byte(s))
		if errA != nil || errD != nil {
			return
		}
		b, errB := FieldsOf(doc, "", Limits{})
		if errB != nil {
			return
		}
		sortFields(a)
		sortFields(b)
		if len(a) != len(b) {
			t.Fatalf("Fields and FieldsOf disagree on %q: %v vs %v", s, a, b)
		}
	})
}
