package cli

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"mcpwarden/internal/config"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"mcpwarden/internal/apikey"
	"mcpwarden/internal/testbin"
)

var update = flag.Bool("update", false, "rewrite golden files")

// runPolicy runs the mcpwarden binary in the module root, with stdin, and returns stdout, stderr and the
// exit code.
func runPolicy(t *testing.T, stdin string, args ...string) (string, string, int) {
	t.Helper()
	cmd := exec.Command(testbin.Path(t), args...)
	cmd.Dir = "../.." // module root: paths in the output are relative to it
	cmd.Stdin = strings.NewReader(stdin)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return out.String(), errb.String(), code
}

func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", "policy", name+".golden")
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("reading golden (run with -update): %v", err)
	}
	if got != string(want) {
		t.Errorf("output =\n%s\nwant\n%s", got, want)
	}
}

// TestPolicyCommands runs `mcpwarden policy check` and `explain` through
// the binary and pins their output.
func TestPolicyCommands(t *testing.T) {
	team := "examples/team.yaml"
	tests := []struct {
		name  string
		args  []string
		code  int
		stdin string
	}{
		{"check-team", []string{"policy", "check", "--config", team}, 0, ""},
		{"check-lint", []string{"policy", "check", "--config", "internal/cli/testdata/policy/lint.yaml"}, 0, ""},
		{"check-lint-strict", []string{"policy", "check", "--strict", "--config", "internal/cli/testdata/policy/lint.yaml"}, 1, ""},
		{"check-invalid", []string{"policy", "check", "--config", "internal/config/testdata/errors/policy.yaml"}, 1, ""},
		{"explain-contractor-write", []string{"policy", "explain", "--config", team, "--as", "carol@example.com", "--via", "jwt", "--group", "contractors", "--call", "github/create_issue", `{"title":"x"}`}, 0, ""},
		{"explain-contractor-read", []string{"policy", "explain", "--config", team, "--as", "carol@example.com", "--via", "jwt", "--group", "contractors", "--annotations", `{"readOnlyHint":true}`, "--call", "github/get_issue", `{"number":1}`}, 0, ""},
		{"explain-approve", []string{"policy", "explain", "--config", team, "--as", "alice@example.com", "--via", "jwt", "--group", "engineering", "--call", "github/merge_pull_request"}, 0, ""},
		{"explain-default", []string{"policy", "explain", "--config", team, "--as", "mallory@example.com", "--via", "jwt", "--call", "github/get_issue"}, 0, ""},
		{"explain-ci", []string{"policy", "explain", "--config", team, "--as", "ci-release", "--group", "ci", "--call", "github/delete_repository"}, 0, ""},
		{"explain-oversized", []string{"policy", "explain", "--config", "examples/laptop.yaml", "--anonymous", "--call", "filesystem/write_file", "-"}, 0, `{"path":"/home/me/projects/a","content":"` + strings.Repeat("x", 1<<20) + `"}`},
		{"explain-credentials", []string{"policy", "explain", "--config", "examples/laptop.yaml", "--anonymous", "--call", "filesystem/read_file", `{"path":"/home/me/.ssh/id_ed25519"}`}, 0, ""},
		{"explain-no-call", []string{"policy", "explain", "--config", team, "--as", "x"}, 2, ""},
	}
	long := regexp.MustCompile(`"x{100,}"`) // the oversized argument, in the request line
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, errOut, code := runPolicy(t, tt.stdin, tt.args...)
			if code != tt.code {
				t.Fatalf("exit code %d, want %d\nstdout:\n%s\nstderr:\n%s", code, tt.code, out, errOut)
			}
			golden(t, tt.name, long.ReplaceAllString(out+errOut, `"x…"`))
		})
	}
}

func TestPolicyHashKey(t *testing.T) {
	out, errOut, code := runPolicy(t, "", "policy", "hash-key", "--new", "--name", "ci-bot")
	if code != 0 {
		t.Fatalf("hash-key --new: exit %d: %s", code, errOut)
	}
	key := regexp.MustCompile(`key:  (mcpw_\S+)`).FindStringSubmatch(out)
	hash := regexp.MustCompile(`hash: (sha256:[0-9a-f]{64})`).FindStringSubmatch(out)
	if key == nil || hash == nil || apikey.Hash(key[1]) != hash[1] {
		t.Fatalf("hash-key --new printed %q; want a key and its hash", out)
	}
	if !strings.Contains(out, "- name: ci-bot\n        hash: "+hash[1]) || !strings.Contains(errOut, "cannot be shown again") {
		t.Errorf("hash-key --new = %q / %q, want a config snippet and a warning", out, errOut)
	}

	own := strings.Repeat("s3cr3t-", 6)
	out, _, code = runPolicy(t, own+"\n", "policy", "hash-key")
	if code != 0 || !strings.Contains(out, "hash: "+apikey.Hash(own)) || strings.Contains(out, own) {
		t.Errorf("hash-key from stdin = %d %q, want the hash and never the key", code, out)
	}
	if _, errOut, code := runPolicy(t, "short\n", "policy", "hash-key"); code != 2 || !strings.Contains(errOut, "at least 32") {
		t.Errorf("hash-key with a short key = %d %q, want a usage error", code, errOut)
	}
	if _, _, code := runPolicy(t, "", "policy", "hash-key"); code != 2 {
		t.Errorf("hash-key without input = %d, want 2", code)
	}
}

// TestExamplesValidate checks that every example config is accepted by
// `mcpwarden config validate` and `policy check --strict`.
func TestExamplesValidate(t *testing.T) {
	files, _ := filepath.Glob("../../examples/*.yaml")
	if len(files) < 2 {
		t.Fatalf("found %d example configs, want the laptop and team ones at least", len(files))
	}
	for _, f := range files {
		rel := "examples/" + filepath.Base(f)
		t.Run(rel, func(t *testing.T) {
			if out, errOut, code := runPolicy(t, "", "config", "validate", rel); code != 0 {
				t.Errorf("config validate %s = %d\n%s%s", rel, code, out, errOut)
			}
			if out, errOut, code := runPolicy(t, "", "policy", "check", "--strict", "--config", rel); code != 0 {
				t.Errorf("policy check --strict %s = %d\n%s%s", rel, code, out, errOut)
			}
		})
	}
}

// TestPolicyDocExamples checks that the YAML in docs/policy.md is valid:
// whole configurations and policy sections parse, and rule snippets
// compile.
func TestPolicyDocExamples(t *testing.T) {
	doc, err := os.ReadFile("../../docs/policy.md")
	if err != nil {
		t.Fatal(err)
	}
	blocks := regexp.MustCompile("(?s)```yaml\n(.*?)```").FindAllSubmatch(doc, -1)
	if len(blocks) < 6 {
		t.Fatalf("found %d YAML blocks in docs/policy.md", len(blocks))
	}
	checked := 0
	for i, m := range blocks {
		y := string(m[1])
		switch {
		case strings.HasPrefix(y, "version: 1"):
		case strings.HasPrefix(y, "policy:"):
			y = "version: 1\n" + y
		case strings.HasPrefix(y, "# ") || strings.HasPrefix(y, "- id:"):
			y = "version: 1\npolicy:\n  access:\n    default: deny\n    rules:\n" + indent(y, "      ")
		default:
			continue
		}
		checked++
		if _, err := config.Parse(fmt.Sprintf("docs/policy.md block %d", i), []byte(y)); err != nil {
			t.Errorf("docs/policy.md YAML block %d is not valid:\n%v\n%s", i, err, y)
		}
	}
	if checked < 7 {
		t.Errorf("checked %d YAML blocks of docs/policy.md, want the reference sections, the rule examples and both setups", checked)
	}
}

func indent(s, by string) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	for i, l := range lines {
		if l != "" {
			lines[i] = by + l
		}
	}
	return strings.Join(lines, "\n") + "\n"
}

// TestPolicyExplainArguments: explain runs the argument rules as the
// gateway would, so a path escape (through .. and through a symlink) is
// named with its rule, and a path inside the root passes.
func TestPolicyExplainArguments(t *testing.T) {
	dir := t.TempDir()
	root := filepath.Join(dir, "project")
	if err := os.MkdirAll(root, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("/etc", filepath.Join(root, "etc")); err != nil {
		t.Fatal(err)
	}
	cfg := filepath.Join(dir, "m.yaml")
	os.WriteFile(cfg, []byte(fmt.Sprintf(`version: 1
servers:
  fs: {command: /bin/true}
policy:
  arguments:
    tools:
      - match: fs/*
        arguments:
          path: {path_root: [%q]}
`, root)), 0o600)
	for _, tc := range []struct {
		path, want string
	}{
		{root + "/../../etc/passwd", "arguments: deny (rule args.path_root)"},
		{root + "/etc/passwd", "arguments: deny (rule args.path_root)"},
		{root + "/src/main.go", "arguments: the policy's argument rules pass"},
	} {
		args, _ := json.Marshal(map[string]string{"path": tc.path})
		r := runBin(t, "", nil, "policy", "explain", "--config", cfg, "--anonymous", "--call", "fs/read_file", string(args))
		if r.code != 0 || !strings.Contains(r.stdout, tc.want) {
			t.Errorf("explain %s = exit %d\n%s%s\nwant %q", tc.path, r.code, r.stdout, r.stderr, tc.want)
		}
		if strings.Contains(tc.want, "deny") && !strings.Contains(r.stdout, "overall:   deny (rule args.path_root)") {
			t.Errorf("explain %s does not give the overall denial:\n%s", tc.path, r.stdout)
		}
	}
}
