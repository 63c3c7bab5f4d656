package pin

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"os/exec"
	"reflect"
	"strings"
	"testing"
)

// The examples of RFC 8785 sections 3.2.2 and 3.2.3.
func TestCanonicalizeRFCExamples(t *testing.T) {
	tests := []struct{ name, in, want string }{
		{
			name: "3.2.2 primitives",
			in: `{
  "numbers": [333333333.33333329, 1E30, 4.50,
              2e-3, 0.000000000000000000000000001],
  "string": "\u20ac$\u000F\u000aA'\u0042\u0022\u005c\\\"\/",
  "literals": [null, true, false]
}`,
			want: `{"literals":[null,true,false],"numbers":[333333333.3333333,1e+30,4.5,0.002,1e-27],"string":"€$\u000f\nA'B\"\\\\\"/"}`,
		},
		{
			name: "3.2.3 sorting",
			in: `{
  "\u20ac": "Euro Sign",
  "\r": "Carriage Return",
  "\ufb33": "Hebrew Letter Dalet With Dagesh",
  "1": "One",
  "\ud83d\ude00": "Emoji: Grinning Face",
  "\u0080": "Control",
  "\u00f6": "Latin Small Letter O With Diaeresis"
}`,
			want: "{\"\\r\":\"Carriage Return\",\"1\":\"One\",\"\u0080\":\"Control\",\"\u00f6\":\"Latin Small Letter O With Diaeresis\",\"\u20ac\":\"Euro Sign\",\"\U0001F600\":\"Emoji: Grinning Face\",\"\ufb33\":\"Hebrew Letter Dalet With Dagesh\"}",
		},
		{name: "nested sort", in: `{"b": {"z": 1, "a": [ {"y": 2, "x": 1} ]}, "a": -0}`, want: `{"a":0,"b":{"a":[{"x":1,"y":2}],"z":1}}`},
		{name: "empty", in: ` { } `, want: `{}`},
		{name: "large integer", in: `[9007199254740993, 123456789012345678901234]`, want: `[9007199254740992,1.2345678901234569e+23]`},
		{name: "integers kept", in: `[0, -5, 10, 999999999999999]`, want: `[0,-5,10,999999999999999]`},
		{name: "exponent forms", in: `[1e2, 1.0, 1E-7, 1e21, 1e20, 0.1]`, want: `[100,1,1e-7,1e+21,100000000000000000000,0.1]`},
		{name: "control escapes", in: `"\u0001\b\t\u001f\u007f"`, want: "\"\\u0001\\b\\t\\u001f\u007f\""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Canonicalize([]byte(tt.in))
			if err != nil {
				t.Fatalf("Canonicalize error: %v", err)
			}
			if string(got) != tt.want {
				t.Errorf("Canonicalize(%s) =\n %s\nwant\n %s", tt.in, got, tt.want)
			}
		})
	}
}

// The IEEE 754 test vectors of RFC 8785 Appendix B.
func TestAppendNumberRFCVectors(t *testing.T) {
	tests := []struct {
		bits uint64
		want string
	}{
		{0x0000000000000000, "0"},
		{0x8000000000000000, "0"},
		{0x0000000000000001, "5e-324"},
		{0x8000000000000001, "-5e-324"},
		{0x7fefffffffffffff, "1.7976931348623157e+308"},
		{0xffefffffffffffff, "-1.7976931348623157e+308"},
		{0x4340000000000000, "9007199254740992"},
		{0xc340000000000000, "-9007199254740992"},
		{0x4430000000000000, "295147905179352830000"},
		{0x44b52d02c7e14af5, "9.999999999999997e+22"},
		{0x44b52d02c7e14af6, "1e+23"},
		{0x44b52d02c7e14af7, "1.0000000000000001e+23"},
		{0x444b1ae4d6e2ef4e, "999999999999999700000"},
		{0x444b1ae4d6e2ef4f, "999999999999999900000"},
		{0x444b1ae4d6e2ef50, "1e+21"},
		{0x3eb0c6f7a0b5ed8d, "0.000001"},
		{0x3eb0c6f7a0b5ed8e, "0.0000010000000000000002"},
		{0x41b3de4355555553, "333333333.3333332"},
		{0x41b3de4355555554, "333333333.33333325"},
		{0x41b3de4355555555, "333333333.3333333"},
		{0x41b3de4355555556, "333333333.3333334"},
		{0x41b3de4355555557, "333333333.33333343"},
		{0xbecbf647612f3696, "-0.0000033333333333333333"},
		{0x43143ff3c1cb0959, "1424953923781206.2"},
	}
	for _, tt := range tests {
		f := math.Float64frombits(tt.bits)
		got, err := AppendNumber(nil, f)
		if err != nil || string(got) != tt.want {
			t.Errorf("AppendNumber(%#016x) = %s, %v, want %s", tt.bits, got, err, tt.want)
		}
	}
	for _, bits := range []uint64{0x7fffffffffffffff, 0x7ff0000000000000, 0xfff0000000000000} {
		if _, err := AppendNumber(nil, math.Float64frombits(bits)); err != ErrNonFinite {
			t.Errorf("AppendNumber(%#016x) error = %v, want ErrNonFinite", bits, err)
		}
	}
}

// TestAppendNumberMatchesNode compares against a real ECMAScript engine
// over random doubles, when node is installed (CI installs it).
func TestAppendNumberMatchesNode(t *testing.T) {
	node, err := exec.LookPath("node")
	if err != nil {
		t.Skip("node not installed")
	}
	r := rand.New(rand.NewPCG(1, 2))
	var hexes []string
	var want []string
	for range 3000 {
		bits := r.Uint64()
		f := math.Float64frombits(bits)
		if math.IsNaN(f) || math.IsInf(f, 0) {
			continue
		}
		got, _ := AppendNumber(nil, f)
		hexes = append(hexes, fmt.Sprintf("%016x", bits))
		want = append(want, string(got))
	}
	script := `const lines=require("fs").readFileSync(0,"utf8").trim().split("\n");
for (const h of lines) { process.stdout.write(String(Buffer.from(h,"hex").readDoubleBE(0))+"\n"); }`
	cmd := exec.Command(node, "-e", script)
	cmd.Stdin = strings.NewReader(strings.Join(hexes, "\n"))
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("node: %v", err)
	}
	js := strings.Split(strings.TrimSpace(string(out)), "\n")
	if len(js) != len(want) {
		t.Fatalf("node printed %d numbers, want %d", len(js), len(want))
	}
	for i := range js {
		if js[i] != want[i] {
			t.Errorf("AppendNumber(%s) = %s, want %s (node)", hexes[i], want[i], js[i])
		}
	}
}

func TestCanonicalizeRejects(t *testing.T) {
	tests := []struct{ in, err string }{
		{`{"a": 1, "a": 2}`, `duplicate key "a"`},
		{`{"b": 1, "a": 2, "b": 3}`, `duplicate key "b"`},
		{`"\ud800"`, "lone surrogate"},
		{`"\udc00\ud800"`, "lone surrogate"},
		{"\"\xff\"", "invalid UTF-8"},
		{`[1e400]`, "does not fit a double"},
		{`{"a" 1}`, "want ':'"},
		{`[1,]`, "invalid character"},
		{`{} x`, "after the top-level value"},
		{`01`, "after the top-level value"},
		{`NaN`, "invalid character"},
		{"\"a\tb\"", "control character"},
		{``, "unexpected end of input"},
	}
	for _, tt := range tests {
		_, err := Canonicalize([]byte(tt.in))
		if err == nil || !strings.Contains(err.Error(), tt.err) {
			t.Errorf("Canonicalize(%q) error = %v, want %q", tt.in, err, tt.err)
		}
	}
}

func FuzzCanonicalize(f *testing.F) {
	for _, s := range []string{
		`{"b":1,"a":[true,null,"x"]}`, `{"\u20ac":1,"\ud83d\ude00":2,"\ufb33":3}`, `[1e30, 4.50, -0, 2e-3]`,
		`"\u0000\u001f\"\\/"`, `{"a":{"a":{"a":{}}}}`, `{"a":1,"a":1}`, `[9007199254740993]`, "\"\xed\xa0\x80\"",
		`{"B":1,"a":2,"A":3,"b":4}`, `{"name":"read_file","inputSchema":{"type":"object","properties":{"path":{"type":"string"}}}}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		out, err := Canonicalize(data)
		if err != nil {
			return
		}
		if !json.Valid(out) {
			t.Fatalf("Canonicalize(%q) = %q, not valid JSON", data, out)
		}
		again, err := Canonicalize(out)
		if err != nil || !bytes.Equal(again, out) {
			t.Fatalf("not idempotent: %q -> %q -> %q (%v)", data, out, again, err)
		}
		// Same value as the input, numbers compared as doubles.
		var a, b any
		if json.Unmarshal(data, &a) != nil {
			t.Fatalf("Canonicalize accepted %q, which encoding/json rejects", data)
		}
		if err := json.Unmarshal(out, &b); err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(a, b) {
			t.Fatalf("Canonicalize(%q) = %q changes the value", data, out)
		}
	})
}
