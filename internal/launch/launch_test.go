package launch

import (
	"reflect"
	"strings"
	"testing"
)

func TestParsePackage(t *testing.T) {
	tests := []struct {
		cmd  string
		args string // space-separated; "_" stands for an empty argument
		want *Package
	}{
		{"npx", "-y @modelcontextprotocol/server-filesystem /tmp", &Package{Ecosystem: NPM, Name: "@modelcontextprotocol/server-filesystem", Spec: "@modelcontextprotocol/server-filesystem", ArgIndex: 1}},
		{"npx", "-y @scope/pkg@1.2.3", &Package{Ecosystem: NPM, Name: "@scope/pkg", Version: "1.2.3", Pinned: true, Spec: "@scope/pkg@1.2.3", ArgIndex: 1}},
		{"npx", "pkg@latest", &Package{Ecosystem: NPM, Name: "pkg", Version: "latest", Spec: "pkg@latest"}},
		{"npx", "pkg@^1.2.0", &Package{Ecosystem: NPM, Name: "pkg", Version: "^1.2.0", Spec: "pkg@^1.2.0"}},
		{"npx", "pkg@1.2.3-beta.1", &Package{Ecosystem: NPM, Name: "pkg", Version: "1.2.3-beta.1", Pinned: true, Spec: "pkg@1.2.3-beta.1"}},
		{"npx", "--yes --package=@a/b@2.0.0 b-bin --flag", &Package{Ecosystem: NPM, Name: "@a/b", Version: "2.0.0", Pinned: true, Spec: "@a/b@2.0.0", ArgIndex: 1}},
		{"npx", "-p @a/b b-bin", &Package{Ecosystem: NPM, Name: "@a/b", Spec: "@a/b", ArgIndex: 1}},
		{"npx", "-- pkg@1.0.0", &Package{Ecosystem: NPM, Name: "pkg", Version: "1.0.0", Pinned: true, Spec: "pkg@1.0.0", ArgIndex: 1}},
		{"npx", "github:owner/repo", &Package{Ecosystem: Git, Name: "github:owner/repo", Spec: "github:owner/repo"}},
		{"npx", "owner/repo#0123456789abcdef0123456789abcdef01234567", &Package{Ecosystem: Git, Name: "github:owner/repo", Version: "0123456789abcdef0123456789abcdef01234567", Pinned: true, Spec: "owner/repo#0123456789abcdef0123456789abcdef01234567"}},
		{"npx", "./local/server", &Package{Ecosystem: Local, Name: "./local/server", Spec: "./local/server"}},
		{`C:\Program Files\nodejs\npx.cmd`, "-y pkg@1.0.0", &Package{Ecosystem: NPM, Name: "pkg", Version: "1.0.0", Pinned: true, Spec: "pkg@1.0.0", ArgIndex: 1}},
		{"npm", "exec -y -- pkg@1.0.0", &Package{Ecosystem: NPM, Name: "pkg", Version: "1.0.0", Pinned: true, Spec: "pkg@1.0.0", ArgIndex: 3}},
		{"pnpm", "dlx pkg", &Package{Ecosystem: NPM, Name: "pkg", Spec: "pkg", ArgIndex: 1}},
		{"bunx", "pkg@2.0.0", &Package{Ecosystem: NPM, Name: "pkg", Version: "2.0.0", Pinned: true, Spec: "pkg@2.0.0"}},
		{"bun", "x pkg", &Package{Ecosystem: NPM, Name: "pkg", Spec: "pkg", ArgIndex: 1}},
		{"uvx", "mcp-server-fetch", &Package{Ecosystem: PyPI, Name: "mcp-server-fetch", Spec: "mcp-server-fetch"}},
		{"uvx", "mcp-server-git==0.6.2 --repository .", &Package{Ecosystem: PyPI, Name: "mcp-server-git", Version: "==0.6.2", Pinned: true, Spec: "mcp-server-git==0.6.2"}},
		{"uvx", "Mcp_Server.Time@0.6.2", &Package{Ecosystem: PyPI, Name: "mcp-server-time", Version: "0.6.2", Pinned: true, Spec: "Mcp_Server.Time@0.6.2"}},
		{"uvx", "tool@latest", &Package{Ecosystem: PyPI, Name: "tool", Version: "latest", Spec: "tool@latest"}},
		{"uvx", "--python 3.12 --from pkg[extra]>=1.0 cmd", &Package{Ecosystem: PyPI, Name: "pkg", Version: ">=1.0", Spec: "pkg[extra]>=1.0", ArgIndex: 3}},
		{"uvx", "--from git+https://github.com/o/r@0123456789abcdef0123456789abcdef01234567 cmd", &Package{Ecosystem: Git, Name: "git+https://github.com/o/r", Version: "0123456789abcdef0123456789abcdef01234567", Pinned: true, Spec: "git+https://github.com/o/r@0123456789abcdef0123456789abcdef01234567", ArgIndex: 1}},
		{"uvx", "--from git+https://github.com/o/r cmd", &Package{Ecosystem: Git, Name: "git+https://github.com/o/r", Spec: "git+https://github.com/o/r", ArgIndex: 1}},
		{"uvx", "pkg==1.*", &Package{Ecosystem: PyPI, Name: "pkg", Version: "==1.*", Spec: "pkg==1.*"}},
		{"uv", "tool run pkg==2.0", &Package{Ecosystem: PyPI, Name: "pkg", Version: "==2.0", Pinned: true, Spec: "pkg==2.0", ArgIndex: 2}},
		{"pipx", "run pkg", &Package{Ecosystem: PyPI, Name: "pkg", Spec: "pkg", ArgIndex: 1}},
		{"pipx", "run --spec pkg==1.0 app", &Package{Ecosystem: PyPI, Name: "pkg", Version: "==1.0", Pinned: true, Spec: "pkg==1.0", ArgIndex: 2}},
		{"docker", "run -i --rm -e TOKEN ghcr.io/github/github-mcp-server", &Package{Ecosystem: Docker, Name: "ghcr.io/github/github-mcp-server", Spec: "ghcr.io/github/github-mcp-server", ArgIndex: 5}},
		{"docker", "run -i --rm mcp/fetch:latest", &Package{Ecosystem: Docker, Name: "mcp/fetch", Version: "latest", Spec: "mcp/fetch:latest", ArgIndex: 3}},
		{"docker", "run -i localhost:5000/img@sha256:" + strings.Repeat("a", 64), &Package{Ecosystem: Docker, Name: "localhost:5000/img", Digest: "sha256:" + strings.Repeat("a", 64), Pinned: true, Spec: "localhost:5000/img@sha256:" + strings.Repeat("a", 64), ArgIndex: 2}},
		{"podman", "container run --network=host -v /a:/b img:1", &Package{Ecosystem: Docker, Name: "img", Version: "1", Spec: "img:1", ArgIndex: 5}},
		{"deno", "run -A npm:pkg@1.0.0", &Package{Ecosystem: NPM, Name: "pkg", Version: "1.0.0", Pinned: true, Spec: "npm:pkg@1.0.0", ArgIndex: 2}},
		{"deno", "run jsr:@std/x", &Package{Ecosystem: JSR, Name: "@std/x", Spec: "jsr:@std/x", ArgIndex: 1}},
		{"cmd", "/c npx -y pkg@1.0.0", &Package{Ecosystem: NPM, Name: "pkg", Version: "1.0.0", Pinned: true, Spec: "pkg@1.0.0", ArgIndex: 3}},
		{"bash", "-lc 'uvx mcp-server-time'", &Package{Ecosystem: PyPI, Name: "mcp-server-time", Spec: "mcp-server-time", ArgIndex: 1}},
		{"node", "server.js", nil},
		{"npx", "", nil},
		{"docker", "ps", nil},
	}
	for _, tt := range tests {
		args := splitArgs(tt.args)
		got := Parse(tt.cmd, args).Effective().Package
		if !reflect.DeepEqual(got, tt.want) {
			t.Errorf("Parse(%q, %q).Package = %+v, want %+v", tt.cmd, args, got, tt.want)
		}
	}
}

// splitArgs splits on spaces, keeping single-quoted groups.
func splitArgs(s string) []string {
	var out []string
	for len(s) > 0 {
		s = strings.TrimLeft(s, " ")
		if s == "" {
			break
		}
		if s[0] == '\'' {
			end := strings.IndexByte(s[1:], '\'')
			out = append(out, s[1:1+end])
			s = s[end+2:]
			continue
		}
		w, rest, _ := strings.Cut(s, " ")
		out = append(out, w)
		s = rest
	}
	return out
}

func TestParseShell(t *testing.T) {
	tests := []struct {
		cmd, args string
		want      *Shell
		inner     string // runner of Inner, "" for none
	}{
		{"sh", "-c 'npx -y pkg'", &Shell{Kind: "sh", Script: "npx -y pkg", ScriptIndex: 1}, "npx"},
		{"/bin/bash", "--login -c 'echo $HOME | server'", &Shell{Kind: "sh", Script: "echo $HOME | server", ScriptIndex: 2}, ""},
		{"bash", "script.sh", nil, ""},
		{"cmd.exe", "/C npx -y pkg", &Shell{Kind: "cmd", Script: "npx -y pkg", ScriptIndex: 1}, "npx"},
		{"cmd", "/c set X=%TOKEN% & server", &Shell{Kind: "cmd", Script: "set X=%TOKEN% & server", ScriptIndex: 1}, ""},
		{"powershell", "-NoProfile -Command 'Start-Server $env:TOKEN'", &Shell{Kind: "powershell", Script: "Start-Server $env:TOKEN", ScriptIndex: 2}, ""},
		{"pwsh", "-enc ZQBjAGgAbwA=", &Shell{Kind: "powershell", Script: "ZQBjAGgAbwA=", ScriptIndex: 1, Encoded: true}, ""},
		{"pwsh", "-File run.ps1", nil, ""},
	}
	for _, tt := range tests {
		l := Parse(tt.cmd, splitArgs(tt.args))
		if !reflect.DeepEqual(l.Shell, tt.want) {
			t.Errorf("Parse(%q, %q).Shell = %+v, want %+v", tt.cmd, tt.args, l.Shell, tt.want)
		}
		inner := ""
		if l.Inner != nil {
			inner = l.Inner.Runner
		}
		if inner != tt.inner {
			t.Errorf("Parse(%q, %q).Inner = %q, want %q", tt.cmd, tt.args, inner, tt.inner)
		}
	}
}

func TestParseScript(t *testing.T) {
	tests := []struct {
		cmd, args      string
		script, module string
		index          int
	}{
		{"node", "--env-file .env build/index.js --port 1", "build/index.js", "", 2},
		{"python3", "-u -m my_server --x", "", "my_server", 2},
		{"python", "server.py", "server.py", "", 0},
		{"python3.12", "-mpkg", "", "pkg", 0},
		{"uv", "run --with mcp server.py", "server.py", "", 3},
		{"java", "-Xmx1g -jar app.jar", "app.jar", "", 2},
		{"deno", "run -A main.ts", "main.ts", "", 2},
		{"bun", "run src/index.ts", "src/index.ts", "", 1},
		{"python", "-c 'print(1)'", "", "", -1},
	}
	for _, tt := range tests {
		l := Parse(tt.cmd, splitArgs(tt.args))
		if l.Script != tt.script || l.Module != tt.module || l.ScriptIndex != tt.index {
			t.Errorf("Parse(%q, %q) = script %q module %q index %d, want %q %q %d", tt.cmd, tt.args, l.Script, l.Module, l.ScriptIndex, tt.script, tt.module, tt.index)
		}
	}
}

func TestContainer(t *testing.T) {
	l := Parse("docker", splitArgs("run -it --rm --privileged --net=host --pid host -v /:/host:ro -v data:/data --volume=/var/run/docker.sock:/var/run/docker.sock --mount type=bind,source=/home/u,target=/h,readonly --cap-add SYS_ADMIN -eTOKEN=x img:1 --serve"))
	c := l.Container
	if c == nil || c.Image != "img:1" || c.ImageIndex != 17 {
		t.Fatalf("container = %+v, want image img:1 at 17", c)
	}
	names := []string{}
	for _, o := range c.Options {
		names = append(names, o.Name+"="+o.Value)
	}
	want := []string{"--interactive=", "--tty=", "--rm=", "--privileged=", "--network=host", "--pid=host", "--volume=/:/host:ro", "--volume=data:/data",
		"--volume=/var/run/docker.sock:/var/run/docker.sock", "--mount=type=bind,source=/home/u,target=/h,readonly", "--cap-add=SYS_ADMIN", "--env=TOKEN=x"}
	if !reflect.DeepEqual(names, want) {
		t.Errorf("options = %q, want %q", names, want)
	}
	mounts := c.Mounts()
	wantMounts := []Mount{
		{Source: "/", Target: "/host", ReadOnly: true, ArgIndex: 8},
		{Source: "/var/run/docker.sock", Target: "/var/run/docker.sock", ArgIndex: 11},
		{Source: "/home/u", Target: "/h", ReadOnly: true, ArgIndex: 13},
	}
	if !reflect.DeepEqual(mounts, wantMounts) {
		t.Errorf("mounts = %+v, want %+v", mounts, wantMounts)
	}
	if got := c.Find("--privileged"); len(got) != 1 || got[0].ArgIndex != 3 {
		t.Errorf("Find(--privileged) = %+v, want one at index 3", got)
	}
	w := Parse("docker", []string{"run", "-v", `C:\Users\me:/data`, "img"}).Container.Mounts()
	if len(w) != 1 || w[0].Source != `C:\Users\me` || w[0].Target != "/data" {
		t.Errorf("windows mount = %+v", w)
	}
}

func FuzzParse(f *testing.F) {
	for _, s := range []string{"npx\x00-y\x00pkg@1.0.0", "docker\x00run\x00-it\x00-v\x00/:/x\x00img", "cmd\x00/c\x00npx\x00pkg", "sh\x00-c\x00sh -c 'x'", "uvx\x00--from\x00git+https://x@y\x00z", "pwsh\x00-c"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		parts := strings.Split(s, "\x00")
		args := parts[1:]
		l := Parse(parts[0], args)
		for e := l; e != nil; e = e.Inner {
			if p := e.Package; p != nil && (p.ArgIndex < 0 || p.ArgIndex >= len(args)) {
				t.Fatalf("package index %d outside args %q", p.ArgIndex, args)
			}
			if c := e.Container; c != nil {
				for _, o := range c.Options {
					if o.ArgIndex < 0 || o.ArgIndex >= len(args) {
						t.Fatalf("option index %d outside args", o.ArgIndex)
					}
				}
				c.Mounts()
			}
			if e.ScriptIndex >= len(args) {
				t.Fatalf("script index %d outside args", e.ScriptIndex)
			}
		}
	})
}
