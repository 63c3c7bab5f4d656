package launch

import (
	"regexp"
	"strings"
)

// Flags that take a value in the next argument, per runner. Flags not
// listed are taken as booleans, which is the safe mistake: a value taken
// for the package makes the reference look unpinned, never pinned.
var (
	npxValueFlags  = set("-p", "--package", "-c", "--call", "--prefix", "--registry", "--cache", "--userconfig", "-w", "--workspace")
	bunxValueFlags = set("-p", "--package", "--registry", "--cwd")
	bunValueFlags  = set("--cwd", "--config", "-c", "--env-file", "--preload", "-r", "--tsconfig-override")
	nodeValueFlags = set("-r", "--require", "--import", "--loader", "--experimental-loader", "--env-file", "--inspect-port", "-e", "--eval", "-p", "--print", "--input-type", "--conditions", "-C", "--title")
	denoValueFlags = set("--config", "-c", "--import-map", "--lock", "--cert", "--location", "--seed", "--v8-flags", "--env-file", "--inspect", "--reload", "-r")
	uvValueFlags   = set("--from", "--with", "--with-editable", "--with-requirements", "-w", "--python", "-p",
		"--index", "--default-index", "--index-url", "-i", "--extra-index-url", "--find-links", "-f",
		"--constraints", "-c", "--overrides", "--build-constraints", "-b", "--cache-dir", "--config-file",
		"--directory", "--project", "--color", "--python-preference", "--index-strategy", "--keyring-provider",
		"--resolution", "--prerelease", "--exclude-newer", "--link-mode", "--reinstall-package",
		"--refresh-package", "--upgrade-package", "-P", "--no-binary-package", "--only-binary-package",
		"--env-file", "--allow-insecure-host", "--package", "--extra", "--group", "--no-build-package")
	pipxValueFlags = set("--spec", "--python", "--index-url", "-i", "--pip-args", "--backend", "--fetch-python")
)

func set(keys ...string) map[string]bool {
	m := make(map[string]bool, len(keys))
	for _, k := range keys {
		m[k] = true
	}
	return m
}

// npmRunner reads npx-style arguments: flags, then the package spec, then
// the package's own args. With --package, the positional is a bin name and
// the package comes from the flag.
func npmRunner(args []string, idx []int, valueFlags map[string]bool) *Package {
	pkgFlag, pkgAt := "", -1
	i := firstPositional(args, valueFlags, func(flag, value string, at int) {
		if (flag == "-p" || flag == "--package") && pkgFlag == "" {
			pkgFlag, pkgAt = value, at
		}
	})
	if pkgFlag != "" {
		return npmSpec(pkgFlag, idx[pkgAt])
	}
	if i < 0 {
		return nil
	}
	return npmSpec(args[i], idx[i])
}

var (
	exactSemver = regexp.MustCompile(`^v?(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(-[0-9A-Za-z.-]+)?(\+[0-9A-Za-z.-]+)?$`)
	commitHash  = regexp.MustCompile(`^[0-9a-fA-F]{40}$`)
)

// npmSpec parses an npm package spec: name, name@version, @scope/name@tag,
// github:user/repo#ref, git+https://...#ref, a tarball URL or a path.
func npmSpec(spec string, at int) *Package {
	p := &Package{Ecosystem: NPM, Spec: spec, ArgIndex: at}
	switch {
	case strings.HasPrefix(spec, "github:") || strings.HasPrefix(spec, "git+") || strings.HasPrefix(spec, "git://") ||
		strings.HasPrefix(spec, "gitlab:") || strings.HasPrefix(spec, "bitbucket:"):
		repo, ref, _ := strings.Cut(spec, "#")
		p.Ecosystem, p.Name, p.Version, p.Pinned = Git, repo, ref, commitHash.MatchString(ref)
		return p
	case strings.HasPrefix(spec, "http://") || strings.HasPrefix(spec, "https://"):
		p.Ecosystem, p.Name = Remote, spec
		return p
	case strings.HasPrefix(spec, ".") || strings.HasPrefix(spec, "/") || strings.HasPrefix(spec, "file:") ||
		strings.HasPrefix(spec, "~") || strings.HasSuffix(spec, ".tgz") || strings.Contains(spec, `\`):
		p.Ecosystem, p.Name = Local, spec
		return p
	}
	name, version := spec, ""
	if at := strings.LastIndexByte(spec, '@'); at > 0 {
		name, version = spec[:at], spec[at+1:]
	}
	if !strings.HasPrefix(name, "@") && strings.Count(name, "/") == 1 && !strings.Contains(name, ":") {
		// user/repo is a GitHub shorthand.
		p.Ecosystem, p.Name, p.Version = Git, "github:"+name, version
		if repo, ref, ok := strings.Cut(spec, "#"); ok {
			p.Name, p.Version = "github:"+repo, ref
		}
		p.Pinned = commitHash.MatchString(p.Version)
		return p
	}
	p.Name, p.Version = name, version
	p.Pinned = exactSemver.MatchString(version)
	return p
}

// uvRunner reads uvx / uv tool run arguments: the package is --from's
// value when given, else the first positional.
func uvRunner(args []string, idx []int) *Package {
	from, fromAt := "", -1
	i := firstPositional(args, uvValueFlags, func(flag, value string, at int) {
		if flag == "--from" {
			from, fromAt = value, at
		}
	})
	if from != "" {
		return pypiSpec(from, idx[fromAt])
	}
	if i < 0 {
		return nil
	}
	return pypiSpec(args[i], idx[i])
}

// pipxRunner reads pipx run arguments: --spec, else the app name, which
// may itself carry a version (pipx run pkg==1.0).
func pipxRunner(args []string, idx []int) *Package {
	spec, specAt := "", -1
	i := firstPositional(args, pipxValueFlags, func(flag, value string, at int) {
		if flag == "--spec" {
			spec, specAt = value, at
		}
	})
	if spec != "" {
		return pypiSpec(spec, idx[specAt])
	}
	if i < 0 {
		return nil
	}
	return pypiSpec(args[i], idx[i])
}

var (
	pypiName     = regexp.MustCompile(`^([A-Za-z0-9][A-Za-z0-9._-]*)(\[[^\]]*\])?(.*)$`)
	pypiSep      = regexp.MustCompile(`[-_.]+`)
	pypiExact    = regexp.MustCompile(`^===?\s*([0-9][0-9A-Za-z.+!-]*)$`)
	pypiWildcard = regexp.MustCompile(`\*`)
)

// pypiSpec parses a PEP 508 requirement as uv and pipx accept it:
// name, name==1.0, name@1.0 (uv), name[extra]>=1, name @ URL,
// git+https://...@rev, or a path.
func pypiSpec(spec string, at int) *Package {
	p := &Package{Ecosystem: PyPI, Spec: spec, ArgIndex: at}
	s := strings.TrimSpace(spec)
	switch {
	case strings.HasPrefix(s, "git+"):
		repo, ref := s, ""
		if i := strings.LastIndexByte(s, '@'); i > strings.Index(s, "://")+2 && i > 0 {
			repo, ref = s[:i], s[i+1:]
		}
		p.Ecosystem, p.Name, p.Version, p.Pinned = Git, repo, ref, commitHash.MatchString(ref)
		return p
	case strings.HasPrefix(s, "http://") || strings.HasPrefix(s, "https://"):
		p.Ecosystem, p.Name = Remote, s
		return p
	case strings.HasPrefix(s, ".") || strings.HasPrefix(s, "/") || strings.HasPrefix(s, "~") ||
		strings.Contains(s, `\`) || strings.HasSuffix(s, ".whl"):
		p.Ecosystem, p.Name = Local, s
		return p
	}
	m := pypiName.FindStringSubmatch(s)
	if m == nil {
		p.Name = s
		return p
	}
	p.Name = strings.ToLower(pypiSep.ReplaceAllString(m[1], "-"))
	rest := strings.TrimSpace(m[3])
	if i := strings.IndexByte(rest, ';'); i >= 0 { // environment markers
		rest = strings.TrimSpace(rest[:i])
	}
	switch {
	case rest == "":
	case strings.HasPrefix(rest, "@"):
		v := strings.TrimSpace(rest[1:])
		if strings.Contains(v, "://") { // name @ URL
			p.Ecosystem, p.Name = Remote, v
			if strings.HasPrefix(v, "git+") {
				return pypiSpec(v, at)
			}
			return p
		}
		p.Version = v // uvx name@1.0 or name@latest
		p.Pinned = v != "latest" && pypiExact.MatchString("=="+v) && !pypiWildcard.MatchString(v)
	default:
		p.Version = rest
		p.Pinned = pypiExact.MatchString(rest) && !pypiWildcard.MatchString(rest)
	}
	return p
}
