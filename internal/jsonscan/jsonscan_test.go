package jsonscan

import (
	"encoding/json"
	"reflect"
	"testing"
)

func TestObject(t *testing.T) {
	type member struct {
		Key     string
		Escaped bool
		Value   string
	}
	for _, tc := range []struct {
		in   string
		want []member
		ok   bool
	}{
		{`{}`, nil, true},
		{` { } `, nil, true},
		{`{"a":1}`, []member{{"a", false, "1"}}, true},
		{`{"a" : "x,}" , "b":{"c":[1,{"d":"]"}]},"e":null}`, []member{{"a", false, `"x,}"`}, {"b", false, `{"c":[1,{"d":"]"}]}`}, {"e", false, "null"}}, true},
		{`{"a\"b":true}`, []member{{`a\"b`, true, "true"}}, true},
		{`{"s":"q\\"}`, []member{{"s", false, `"q\\"`}}, true},
		{`{"a":-1.5e3,"b":[]}`, []member{{"a", false, "-1.5e3"}, {"b", false, "[]"}}, true},
		{`[1]`, nil, false},
		{`{"a":1}x`, []member{{"a", false, "1"}}, false},
		{`{"a":1,}`, []member{{"a", false, "1"}}, false},
		{`{"a"}`, nil, false},
		{`{"a":}`, nil, false},
		{`{"a":"unterminated}`, nil, false},
		{`{"a":{"b":1}`, []member{{"a", false, `{"b":1}`}}, false},
		{`{a:1}`, nil, false},
		{``, nil, false},
	} {
		var got []member
		ok := Object([]byte(tc.in), func(k []byte, esc bool, v []byte) bool {
			got = append(got, member{string(k), esc, string(v)})
			return true
		})
		if ok != tc.ok || !reflect.DeepEqual(got, tc.want) {
			t.Errorf("Object(%s) = %v %v, want %v %v", tc.in, got, ok, tc.want, tc.ok)
		}
	}
}

func TestFields(t *testing.T) {
	keys := []string{"name", "arguments"}
	for _, tc := range []struct {
		in   string
		name string
		args string
		ok   bool
	}{
		{`{"name":"echo","arguments":{"text":"hi"}}`, `"echo"`, `{"text":"hi"}`, true},
		{`{"name":"echo"}`, `"echo"`, "", true},
		{`{"name":"a","name":"b"}`, "", "", false},         // duplicates decode differently per library
		{`{"name":"a","_meta":{}}`, "", "", false},         // unknown member
		{`{"na\u006de":"a"}`, "", "", false},               // escaped key
		{`{"arguments":{},"name":"x"}`, `"x"`, `{}`, true}, // any order
	} {
		vals := make([][]byte, 2)
		ok := Fields([]byte(tc.in), keys, vals)
		if ok != tc.ok {
			t.Errorf("Fields(%s) ok = %v, want %v", tc.in, ok, tc.ok)
			continue
		}
		if ok && (string(vals[0]) != tc.name || string(vals[1]) != tc.args) {
			t.Errorf("Fields(%s) = %q %q, want %q %q", tc.in, vals[0], vals[1], tc.name, tc.args)
		}
	}
}

func TestPlainString(t *testing.T) {
	for in, want := range map[string]string{`"echo"`: "echo", `"a b"`: "a b", `""`: ""} {
		if got, ok := PlainString([]byte(in)); !ok || got != want {
			t.Errorf("PlainString(%s) = %q %v", in, got, ok)
		}
	}
	for _, in := range []string{`"a\nb"`, `"a\"b"`, `1`, `"`, `null`, "\"a\tb\"", "\"\xea\""} {
		if got, ok := PlainString([]byte(in)); ok {
			t.Errorf("PlainString(%s) = %q, want not plain", in, got)
		}
	}
}

// FuzzObject checks Object against encoding/json on valid objects: the
// members it finds are exactly the object's, in order, and it never
// panics on anything.
func FuzzObject(f *testing.F) {
	for _, s := range []string{`{}`, `{"a":1,"b":[{"c":"]}"}]}`, `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"x","arguments":{}}}`, `{"a\"":"\\"}`, `[`, `{"a":1`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var keys []string
		var vals []json.RawMessage
		ok := Object(data, func(k []byte, esc bool, v []byte) bool {
			var key string
			if err := json.Unmarshal(append(append([]byte{'"'}, k...), '"'), &key); err != nil && json.Valid(data) {
				t.Fatalf("key %q does not decode: %v", k, err)
			}
			keys = append(keys, key)
			vals = append(vals, v)
			return true
		})
		if !json.Valid(data) {
			return
		}
		var members []json.RawMessage
		isObject := len(data) > 0 && json.Unmarshal(data, new(map[string]json.RawMessage)) == nil
		if !isObject {
			if ok {
				t.Fatalf("Object accepted %q, which is not an object", data)
			}
			return
		}
		if !ok {
			t.Fatalf("Object rejected the valid object %q", data)
		}
		dec := json.NewDecoder(bytesReader(data))
		if _, err := dec.Token(); err != nil {
			t.Fatal(err)
		}
		for i := 0; dec.More(); i++ {
			tok, err := dec.Token()
			if err != nil {
				t.Fatal(err)
			}
			var v json.RawMessage
			if err := dec.Decode(&v); err != nil {
				t.Fatal(err)
			}
			if i >= len(keys) || tok.(string) != keys[i] {
				t.Fatalf("member %d of %q: key %v, Object found %v", i, data, tok, keys)
			}
			members = append(members, v)
		}
		if len(members) != len(vals) {
			t.Fatalf("%q: %d members, Object found %d", data, len(members), len(vals))
		}
		for i := range vals {
			if !json.Valid(vals[i]) || string(compact(vals[i])) != string(compact(members[i])) {
				t.Fatalf("%q member %d: Object %q, json %q", data, i, vals[i], members[i])
			}
		}
	})
}

// BenchmarkFields is the fast path's read of a tools/call line.
func BenchmarkFields(b *testing.B) {
	line := []byte(`{"jsonrpc":"2.0","id":42,"method":"tools/call","params":{"name":"github__search_issues","arguments":{"query":"is:open label:bug","per_page":50,"page":1}}}`)
	top := []string{"jsonrpc", "id", "method", "params"}
	params := []string{"name", "arguments"}
	vals := make([][]byte, 4)
	b.SetBytes(int64(len(line)))
	b.ReportAllocs()
	for b.Loop() {
		if !Fields(line, top, vals) || !Fields(vals[3], params, vals[:2]) {
			b.Fatal("not a plain call")
		}
	}
}

func TestMember(t *testing.T) {
	obj := []byte(`{"a":1,"params":{"_meta":{"k":"v"}},"a":2,"e\u0073c":3}`)
	for key, want := range map[string]string{"a": "1", "params": `{"_meta":{"k":"v"}}`, "esc": "", "missing": ""} {
		if got := string(Member(obj, key)); got != want {
			t.Errorf("Member(%q) = %q, want %q", key, got, want)
		}
	}
	if got := Member([]byte(`[1]`), "a"); got != nil {
		t.Errorf("Member of an array = %q", got)
	}
	if got := string(Member(Member(obj, "params"), "_meta")); got != `{"k":"v"}` {
		t.Errorf("nested Member = %q", got)
	}
}
