package posture

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"mcpwarden/internal/discover"
	"mcpwarden/internal/finding"
)

const home = "/home/alice"

// stdio builds a declaration as discovery would, with args on lines 10+i.
func stdio(cmd string, args ...string) *discover.Server {
	s := &discover.Server{Client: "test", ConfigPath: "/cfg.json", Line: 3, Name: "srv", Transport: discover.Stdio,
		Command: cmd, Args: args, Lines: map[string]int{"command": 4}}
	s.Raw.Command, s.Raw.Args = cmd, args
	for i := range args {
		s.Lines["args["+strconv.Itoa(i)+"]"] = 10 + i
	}
	return s
}

func withEnv(s *discover.Server, kv ...string) *discover.Server {
	s.Env, s.Raw.Env = map[string]string{}, map[string]string{}
	for i := 0; i+1 < len(kv); i += 2 {
		s.Env[kv[i]], s.Raw.Env[kv[i]] = kv[i+1], kv[i+1]
		s.Lines["env."+kv[i]] = 30 + i
	}
	return s
}

func remote(u string, headers ...string) *discover.Server {
	s := &discover.Server{Client: "test", ConfigPath: "/cfg.json", Line: 3, Name: "srv", Transport: discover.HTTP, URL: u, Lines: map[string]int{"url": 5}}
	s.Raw.URL = u
	for i := 0; i+1 < len(headers); i += 2 {
		if s.Headers == nil {
			s.Headers, s.Raw.Headers = map[string]string{}, map[string]string{}
		}
		s.Headers[headers[i]], s.Raw.Headers[headers[i]] = headers[i+1], headers[i+1]
	}
	return s
}

// summary renders findings as "rule@field:severity", without the
// package_source info every server gets.
func summary(fs []Finding) []string {
	var out []string
	for _, f := range fs {
		if f.Finding.RuleID == PackageSource {
			continue
		}
		out = append(out, f.Finding.RuleID+"@"+strings.TrimPrefix(f.Finding.Evidence[0].Field, "config.")+":"+f.Finding.Severity.String())
	}
	return out
}

func TestReview(t *testing.T) {
	tests := []struct {
		name string
		s    *discover.Server
		want []string
	}{
		// supply_chain.unpinned_package
		{"npx unpinned", stdio("npx", "-y", "@modelcontextprotocol/server-memory"), []string{"supply_chain.unpinned_package@args[1]:medium"}},
		{"npx latest", stdio("npx", "pkg@latest"), []string{"supply_chain.unpinned_package@args[0]:medium"}},
		{"npx range", stdio("npx", "-y", "pkg@^1.2.0"), []string{"supply_chain.unpinned_package@args[1]:medium"}},
		{"npx pinned", stdio("npx", "-y", "@modelcontextprotocol/server-memory@2025.4.25"), nil},
		{"uvx unpinned", stdio("uvx", "mcp-server-fetch"), []string{"supply_chain.unpinned_package@args[0]:medium"}},
		{"uvx pinned", stdio("uvx", "mcp-server-fetch==2025.4.7"), nil},
		{"pipx unpinned", stdio("pipx", "run", "some-mcp"), []string{"supply_chain.unpinned_package@args[1]:medium"}},
		{"git branch", stdio("uvx", "--from", "git+https://github.com/o/r", "srv"), []string{"supply_chain.unpinned_package@args[1]:medium"}},
		{"cmd wrapped npx", stdio("cmd", "/c", "npx", "-y", "pkg"), []string{"supply_chain.unpinned_package@args[3]:medium", "shell.wrapper@args[1]:low"}},
		{"local binary", stdio("/usr/local/bin/srv", "--stdio"), nil},
		// supply_chain.unpinned_image
		{"image no tag", stdio("docker", "run", "-i", "--rm", "mcp/fetch"), []string{"supply_chain.unpinned_image@args[3]:medium"}},
		{"image tag", stdio("docker", "run", "-i", "ghcr.io/github/github-mcp-server:v0.1"), []string{"supply_chain.unpinned_image@args[2]:medium"}},
		{"image digest", stdio("docker", "run", "-i", "mcp/fetch@sha256:"+strings.Repeat("0a", 32)), nil},
		// privilege.docker_*
		{"privileged", stdio("docker", "run", "--privileged", "img@sha256:"+strings.Repeat("0a", 32)), []string{"privilege.docker_privileged@args[1]:critical"}},
		{"host network", stdio("docker", "run", "--network", "host", "--pid=host", "img@sha256:"+strings.Repeat("0a", 32)),
			[]string{"privilege.docker_host_namespace@args[2]:high", "privilege.docker_host_namespace@args[3]:high"}},
		{"bridge network", stdio("docker", "run", "--network", "bridge", "img@sha256:"+strings.Repeat("0a", 32)), nil},
		{"broad mounts", stdio("docker", "run", "-v", "/:/host:ro", "-v", "/var/run/docker.sock:/var/run/docker.sock", "-v", home+":/h", "-v", home+"/.ssh:/ssh", "--mount", "type=bind,src=/etc,dst=/etc", "img@sha256:"+strings.Repeat("0a", 32)),
			[]string{"privilege.docker_broad_mount@args[2]:high", "privilege.docker_broad_mount@args[4]:critical", "privilege.docker_broad_mount@args[6]:high", "privilege.docker_broad_mount@args[8]:high", "privilege.docker_broad_mount@args[10]:high"}},
		{"narrow mounts", stdio("docker", "run", "-v", home+"/projects/app:/work", "-v", "cache:/cache", "img@sha256:"+strings.Repeat("0a", 32)), nil},
		{"capabilities", stdio("docker", "run", "--cap-add", "SYS_ADMIN", "--cap-add=CHOWN", "--security-opt", "seccomp=unconfined", "img@sha256:"+strings.Repeat("0a", 32)),
			[]string{"privilege.docker_capabilities@args[2]:high", "privilege.docker_capabilities@args[5]:high"}},
		// privilege.filesystem_root
		{"fs root", stdio("npx", "-y", "@modelcontextprotocol/server-filesystem@2025.8.21", "/"), []string{"privilege.filesystem_root@args[2]:high"}},
		{"fs home tilde", stdio("npx", "-y", "@modelcontextprotocol/server-filesystem@2025.8.21", "~"), []string{"privilege.filesystem_root@args[2]:high"}},
		{"fs home path", stdio("npx", "-y", "@modelcontextprotocol/server-filesystem@2025.8.21", home+"/"), []string{"privilege.filesystem_root@args[2]:high"}},
		{"fs project dir", stdio("npx", "-y", "@modelcontextprotocol/server-filesystem@2025.8.21", home+"/projects"), nil},
		{"other server root flag", stdio("/opt/srv", "--root=/"), []string{"privilege.filesystem_root@args[0]:medium"}},
		{"windows drive", stdio("npx.cmd", "-y", "@modelcontextprotocol/server-filesystem@2025.8.21", `C:\`), []string{"privilege.filesystem_root@args[2]:high"}},
		// secrets.plaintext_env
		{"github token in env", withEnv(stdio("/opt/srv"), "GITHUB_PERSONAL_ACCESS_TOKEN", "ghp_"+strings.Repeat("a1B2", 9)), []string{"secrets.plaintext_env@env.GITHUB_PERSONAL_ACCESS_TOKEN:high"}},
		{"api key by name", withEnv(stdio("/opt/srv"), "BRAVE_API_KEY", "BSAk3j4h5k6j7h8g9f0"), []string{"secrets.plaintext_env@env.BRAVE_API_KEY:high"}},
		{"db url with password", withEnv(stdio("/opt/srv"), "DATABASE_URL", "postgres://app:s3cretPw@db/app"), []string{"secrets.plaintext_env@env.DATABASE_URL:high"}},
		{"env references", withEnv(stdio("/opt/srv"), "API_KEY", "${env:API_KEY}", "TOKEN", "{env:TOKEN}", "GH", "$GH_TOKEN"), nil},
		{"env not secret", withEnv(stdio("/opt/srv"), "LOG_LEVEL", "debug", "API_KEY_PATH", "/etc/keys/api", "TOKEN", "your-token-here", "PORT", "8080", "ALLOWED_DIRS", "/tmp"), nil},
		// secrets.plaintext_header
		{"bearer header", remote("https://api.example.com/mcp", "Authorization", "Bearer abcDEF123456ghiJKL789"), []string{"secrets.plaintext_header@headers.Authorization:high"}},
		{"header reference", remote("https://api.example.com/mcp", "Authorization", "Bearer ${input:token}", "X-Trace", "on"), nil},
		// secrets.plaintext_arg
		{"token flag", stdio("/opt/srv", "--token", "xoxb-1234567890-abcdefghij"), []string{"secrets.plaintext_arg@args[1]:high"}},
		{"key=value arg", stdio("/opt/srv", "--api-key=Zx9Qw8Er7Ty6Ui5Op4As"), []string{"secrets.plaintext_arg@args[0]:high"}},
		{"docker -e literal", stdio("docker", "run", "-e", "OPENAI_API_KEY=sk-proj-abcdefghijklmnopqrstuvwx", "img@sha256:"+strings.Repeat("0a", 32)), []string{"secrets.plaintext_arg@args[2]:high"}},
		{"docker -e passthrough", stdio("docker", "run", "-e", "OPENAI_API_KEY", "img@sha256:"+strings.Repeat("0a", 32)), nil},
		// secrets.url_credentials
		{"url password", remote("https://user:hunter2pass@api.example.com/mcp"), []string{"secrets.url_credentials@url:high"}},
		{"url query key", remote("https://api.example.com/mcp?api_key=abc123def456&region=eu"), []string{"secrets.url_credentials@url:high"}},
		{"url query benign", remote("https://api.example.com/mcp?region=eu"), nil},
		// shell.*
		{"sh interpolation", stdio("sh", "-c", "exec server --token $TOKEN"), []string{"shell.wrapper_interpolation@args[1]:high"}},
		{"bash command substitution", stdio("bash", "-lc", "server --root $(pwd)"), []string{"shell.wrapper_interpolation@args[1]:high"}},
		{"cmd percent var", stdio("cmd", "/c", "server", "%APPDATA%\\x"), []string{"shell.wrapper_interpolation@args[1]:high"}},
		{"powershell env", stdio("powershell", "-Command", "server $env:TOKEN"), []string{"shell.wrapper_interpolation@args[1]:high"}},
		{"powershell encoded", stdio("pwsh", "-EncodedCommand", "ZQBjAGgAbwA="), []string{"shell.wrapper_interpolation@args[1]:high"}},
		{"sh chain", stdio("sh", "-c", "cd /srv && ./server"), []string{"shell.wrapper@args[1]:medium"}},
		{"sh plain", stdio("sh", "-c", "/opt/server --stdio"), []string{"shell.wrapper@args[1]:low"}},
		{"no shell", stdio("/opt/server", "-c", "config.toml"), nil},
		// transport.plain_http
		{"http public", remote("http://mcp.example.com/mcp"), []string{"transport.plain_http@url:high"}},
		{"http private", remote("http://10.1.2.3:8080/sse"), []string{"transport.plain_http@url:medium"}},
		{"http loopback", remote("http://127.0.0.1:3000/mcp"), nil},
		{"http localhost", remote("http://localhost:3000/mcp"), nil},
		{"https", remote("https://mcp.example.com/mcp"), nil},
		// config.unresolved_placeholder
		{"unresolved", func() *discover.Server {
			s := stdio("/opt/srv")
			s.Unresolved = []string{"${input:token}"}
			return s
		}(), []string{"config.unresolved_placeholder@config:info"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := summary(Review(tt.s, Options{Home: home}))
			if !slices.Equal(got, tt.want) {
				t.Errorf("Review(%s %q) = %q, want %q", tt.s.Command, tt.s.Args, got, tt.want)
			}
		})
	}
}

func TestReviewLinesAndSource(t *testing.T) {
	s := withEnv(stdio("npx", "-y", "@scope/pkg"), "API_TOKEN", "tok_9f8e7d6c5b4a3210")
	fs := Review(s, Options{Home: home})
	byRule := map[string]Finding{}
	for _, f := range fs {
		byRule[f.Finding.RuleID] = f
		if f.Path != "/cfg.json" || !f.Finding.Category.Valid() || f.Finding.Server != "srv" || f.Finding.Title == "" || f.Finding.Detail == "" {
			t.Errorf("finding %v is incomplete: %+v", f.Finding, f)
		}
	}
	if f := byRule[UnpinnedPackage]; f.Line != 11 {
		t.Errorf("unpinned_package line = %d, want 11 (args[1])", f.Line)
	}
	if f := byRule[PlaintextEnv]; f.Line != 30 || f.Finding.Evidence[0].Text != "API_TOKEN=[REDACTED 20 chars]" {
		t.Errorf("plaintext_env = line %d evidence %+v", f.Line, f.Finding.Evidence)
	}
	ext := &discover.Server{Name: "ext", ConfigPath: "/z.json", Line: 2, Note: "provided by a Zed extension"}
	if got := Review(ext, Options{Home: home}); len(got) != 0 {
		t.Errorf("Review(extension-provided server) = %v, want no findings: nothing is known about its launch", got)
	}
	src := byRule[PackageSource]
	if src.Finding.Severity != finding.Info || src.Finding.Title != "runs npm package @scope/pkg (unpinned)" {
		t.Errorf("package_source = %+v", src.Finding)
	}
}

// TestReviewNeverEchoesSecrets runs every fixture home of the discover
// package through the review and checks that no secret value reaches the
// findings.
func TestReviewNeverEchoesSecrets(t *testing.T) {
	secrets := []string{"patAbc123.def456", "dk-live-123", "plain-value", "abc", "sntrys_abc", "hunter2pass", "tok_9f8e7d6c5b4a3210"}
	root := filepath.Join("..", "discover", "testdata", "homes")
	dirs, _ := filepath.Glob(filepath.Join(root, "*"))
	if len(dirs) < 10 {
		t.Fatalf("found %d fixture homes, want the discover fixtures", len(dirs))
	}
	total := 0
	for _, d := range dirs {
		res, err := discover.Discover(context.Background(), discover.Options{Home: filepath.Join(d, "home"), OS: "linux", Cwd: filepath.Join(d, "project"), Root: filepath.Join(d, "root"),
			Getenv: func(k string) (string, bool) { return "", false }})
		if err != nil {
			t.Fatal(err)
		}
		for i := range res.Servers {
			for _, f := range Review(&res.Servers[i], Options{Home: home}) {
				total++
				b, _ := json.Marshal(f)
				for _, sec := range secrets {
					if len(sec) > 3 && strings.Contains(string(b), sec) {
						t.Errorf("finding %s for %s echoes secret %q: %s", f.Finding.RuleID, res.Servers[i].Name, sec, b)
					}
				}
				if f.Line < 1 {
					t.Errorf("finding %s for %s has no line", f.Finding.RuleID, res.Servers[i].Name)
				}
			}
		}
	}
	if total < 30 {
		t.Errorf("only %d findings over all fixtures; the check proves little", total)
	}
}

func TestRulesAreDocumented(t *testing.T) {
	seen := map[string]bool{}
	for _, r := range Rules() {
		if seen[r.ID] || !r.Category.Valid() || r.Title == "" || strings.ToLower(r.ID) != r.ID || !strings.Contains(r.ID, ".") {
			t.Errorf("bad rule %+v", r)
		}
		seen[r.ID] = true
	}
}

func FuzzRedactText(f *testing.F) {
	for _, s := range []string{"--token=ghp_" + strings.Repeat("a1", 18), "run KEY=sk-ant-abcdefghijklmnopqrstu x", "a b c", "API_KEY='Zx9Qw8Er7Ty6Ui5Op4As'", "=", "x=y=z"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		out := redactText(s)
		for _, w := range strings.FieldsFunc(s, func(r rune) bool { return r == ' ' || r == '\t' || r == '"' || r == '\'' || r == '\n' }) {
			name, val, ok := strings.Cut(w, "=")
			if !ok {
				name, val = "", w
			}
			if _, secret := classifySecret(strings.TrimLeft(name, "-"), val); secret && len(val) >= 8 && strings.Contains(out, val) {
				t.Fatalf("redactText(%q) = %q still holds %q", s, out, val)
			}
		}
	})
}

// TestRulesInDocs keeps docs/scan.md in step with the rule list: each ID
// has its paragraph.
func TestRulesInDocs(t *testing.T) {
	doc, err := os.ReadFile(filepath.Join("..", "..", "docs", "scan.md"))
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range Rules() {
		if !strings.Contains(string(doc), "**`"+r.ID+"`** ("+string(r.Category)+", ") {
			t.Errorf("docs/scan.md has no paragraph for %s (%s)", r.ID, r.Category)
		}
	}
}
