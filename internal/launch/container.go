package launch

import (
	"strings"
)

// Container is a `docker run` (or podman, nerdctl) invocation.
type Container struct {
	Engine string // docker, podman, nerdctl
	// Image as written, and its index in args.
	Image      string
	ImageIndex int
	// Options are the run options before the image, in order.
	Options []Option
}

// Option is one container run option with its value.
type Option struct {
	Name     string // long form: "--privileged", "--volume", "--network"
	Value    string
	ArgIndex int
}

// Mount is a bind mount from a -v/--volume or --mount option.
type Mount struct {
	Source, Target string
	ReadOnly       bool
	ArgIndex       int
}

// Find returns the options with the given long name.
func (c *Container) Find(name string) []Option {
	var out []Option
	for _, o := range c.Options {
		if o.Name == name {
			out = append(out, o)
		}
	}
	return out
}

// Mounts returns the bind mounts. Named volumes (no path source) are
// skipped.
func (c *Container) Mounts() []Mount {
	var out []Mount
	for _, o := range c.Options {
		switch o.Name {
		case "--volume":
			// SOURCE:TARGET[:OPTIONS]; a Windows source may hold a drive
			// letter colon (C:\x:/y).
			parts := strings.Split(o.Value, ":")
			if len(parts) >= 3 && len(parts[0]) == 1 && parts[0][0]|0x20 >= 'a' && parts[0][0]|0x20 <= 'z' {
				parts = append([]string{parts[0] + ":" + parts[1]}, parts[2:]...)
			}
			if len(parts) < 2 || !hostPath(parts[0]) {
				continue
			}
			m := Mount{Source: parts[0], Target: parts[1], ArgIndex: o.ArgIndex}
			if len(parts) > 2 {
				for _, f := range strings.Split(parts[2], ",") {
					if f == "ro" || f == "readonly" {
						m.ReadOnly = true
					}
				}
			}
			out = append(out, m)
		case "--mount":
			m := Mount{ArgIndex: o.ArgIndex}
			bind := false
			for _, kv := range strings.Split(o.Value, ",") {
				k, v, _ := strings.Cut(kv, "=")
				switch strings.ToLower(k) {
				case "type":
					bind = v == "bind"
				case "source", "src":
					m.Source = v
				case "target", "destination", "dst":
					m.Target = v
				case "readonly", "ro":
					m.ReadOnly = v == "" || v == "true" || v == "1"
				}
			}
			if bind && m.Source != "" {
				out = append(out, m)
			}
		}
	}
	return out
}

// hostPath tells a bind-mount source (a path) from a named volume.
func hostPath(s string) bool {
	return strings.HasPrefix(s, "/") || strings.HasPrefix(s, "~") || strings.HasPrefix(s, ".") ||
		strings.HasPrefix(s, "$") || strings.HasPrefix(s, "%") || strings.Contains(s, `\`) ||
		(len(s) >= 2 && s[1] == ':')
}

// Long names of the short run options, and the options that take a value.
var (
	dockerShort = map[byte]string{
		'e': "--env", 'v': "--volume", 'p': "--publish", 'w': "--workdir", 'u': "--user", 'l': "--label",
		'h': "--hostname", 'm': "--memory", 'i': "--interactive", 't': "--tty", 'd': "--detach", 'P': "--publish-all",
		'a': "--attach", 'c': "--cpu-shares",
	}
	dockerValue = set("--env", "--volume", "--publish", "--workdir", "--user", "--label", "--hostname", "--memory",
		"--attach", "--cpu-shares", "--mount", "--name", "--network", "--net", "--entrypoint", "--env-file",
		"--label-file", "--platform", "--cap-add", "--cap-drop", "--device", "--add-host", "--dns", "--dns-search",
		"--dns-option", "--ipc", "--pid", "--uts", "--userns", "--cgroupns", "--cpus", "--cpuset-cpus",
		"--security-opt", "--tmpfs", "--ulimit", "--restart", "--runtime", "--log-driver", "--log-opt",
		"--shm-size", "--gpus", "--pull", "--stop-signal", "--stop-timeout", "--health-cmd", "--health-interval",
		"--memory-swap", "--group-add", "--volumes-from", "--ip", "--ip6", "--mac-address", "--expose",
		"--link", "--network-alias", "--pids-limit", "--cidfile", "--sysctl", "--storage-opt", "--annotation",
		"--arch", "--os", "--userns-remap", "--cgroup-parent", "--isolation", "--kernel-memory", "--oom-score-adj")
)

// containerRun parses `docker run [OPTIONS] IMAGE [COMMAND]` (also
// `docker container run`). Other subcommands return nil.
func containerRun(engine string, args []string, idx []int) *Container {
	i := 0
	for i < len(args) && strings.HasPrefix(args[i], "-") { // global flags: --context x, -H host
		if (args[i] == "--context" || args[i] == "-H" || args[i] == "--host" || args[i] == "--config") && i+1 < len(args) {
			i++
		}
		i++
	}
	if i < len(args) && args[i] == "container" {
		i++
	}
	if i >= len(args) || args[i] != "run" {
		return nil
	}
	c := &Container{Engine: engine, ImageIndex: -1}
	for i++; i < len(args); i++ {
		a := args[i]
		if a == "--" {
			i++
			break
		}
		if !strings.HasPrefix(a, "-") || a == "-" {
			break
		}
		if strings.HasPrefix(a, "--") {
			name, value, has := strings.Cut(a, "=")
			if name == "--net" {
				name = "--network"
			}
			if !has && dockerValue[name] && i+1 < len(args) {
				i++
				value = args[i]
			}
			c.Options = append(c.Options, Option{Name: name, Value: value, ArgIndex: idx[i]})
			continue
		}
		// Short flags, possibly bundled (-it) or with an attached value
		// (-eKEY=v, -v/a:/b).
		for j := 1; j < len(a); j++ {
			long, ok := dockerShort[a[j]]
			if !ok {
				long = "-" + string(a[j])
			}
			if dockerValue[long] {
				value := a[j+1:]
				value = strings.TrimPrefix(value, "=")
				if value == "" && i+1 < len(args) {
					i++
					value = args[i]
				}
				c.Options = append(c.Options, Option{Name: long, Value: value, ArgIndex: idx[i]})
				break
			}
			c.Options = append(c.Options, Option{Name: long, ArgIndex: idx[i]})
		}
	}
	if i < len(args) {
		c.Image, c.ImageIndex = args[i], idx[i]
	}
	return c
}

// pkg describes the image as a package reference.
func (c *Container) pkg() *Package {
	if c.Image == "" {
		return nil
	}
	name, tag, digest := SplitImage(c.Image)
	p := &Package{Ecosystem: Docker, Name: name, Version: tag, Digest: digest, Spec: c.Image, ArgIndex: c.ImageIndex}
	p.Pinned = strings.HasPrefix(digest, "sha256:") && len(digest) == len("sha256:")+64
	return p
}

// SplitImage splits an image reference into name (lower-cased), tag and
// digest: "ghcr.io/o/i:1.2@sha256:ab" → "ghcr.io/o/i", "1.2", "sha256:ab".
func SplitImage(ref string) (name, tag, digest string) {
	name = ref
	if i := strings.IndexByte(name, '@'); i >= 0 {
		name, digest = name[:i], name[i+1:]
	}
	if i := strings.LastIndexByte(name, ':'); i > strings.LastIndexByte(name, '/') {
		name, tag = name[:i], name[i+1:]
	}
	return strings.ToLower(name), tag, digest
}
