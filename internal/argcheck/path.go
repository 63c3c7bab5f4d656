package argcheck

import (
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"strings"

	"mcpwarden/internal/classify"
)

// jail is a compiled path_root constraint: the directories a path
// argument must stay inside, with their symlinks resolved.
type jail struct {
	roots []string // absolute, clean, symlinks resolved
	home  string   // what a leading ~ expands to ("" when unknown)
}

func newJail(dirs []string, home string) (*jail, error) {
	j := &jail{home: home}
	for _, d := range dirs {
		abs, err := filepath.Abs(d)
		if err != nil {
			return nil, fmt.Errorf("path_root %s: %w", d, err)
		}
		real, err := filepath.EvalSymlinks(abs)
		if err != nil {
			return nil, fmt.Errorf("path_root %s: the directory must exist: %w", d, err)
		}
		if st, err := os.Stat(real); err != nil || !st.IsDir() {
			return nil, fmt.Errorf("path_root %s is not a directory", d)
		}
		j.roots = append(j.roots, real)
	}
	if len(j.roots) == 0 {
		return nil, errors.New("path_root lists no directory")
	}
	return j, nil
}

// check returns why value escapes the jail, or "".
//
// A path is judged in every form some layer between the agent and the
// file system may read it: as written, and fully decoded (URL-decoded
// repeatedly, overlong UTF-8, NFKC, backslashes as separators: see
// [classify.Path]); a file:// URL by its path; a leading ~ as the home
// directory. Each form must resolve inside the jail: an absolute path
// inside one of the roots, a relative path inside every root (it is
// joined to whichever directory the server uses as its base). Symlinks
// are resolved on the real file system for the longest prefix that
// exists, so a link inside a root that points out of it counts as out.
func (j *jail) check(value string) string {
	if strings.IndexByte(value, 0) >= 0 {
		return "the path contains a NUL byte, which truncates it"
	}
	r := classify.Path(value)
	if r.Has("path.nul") {
		return "the path contains an encoded NUL byte, which truncates it"
	}
	if r.Has("path.unc") {
		return "the path names a network share (UNC)"
	}
	forms := []string{value}
	if r.Decoded != value {
		forms = append(forms, r.Decoded)
	}
	for _, f := range forms {
		if u, err := url.Parse(f); err == nil && strings.EqualFold(u.Scheme, "file") {
			forms = append(forms, u.Path)
		}
	}
	for _, f := range forms {
		if why := j.checkForm(f); why != "" {
			if f != value {
				return fmt.Sprintf("decoded as %q, %s", clip(f), why)
			}
			return why
		}
	}
	return ""
}

func (j *jail) checkForm(p string) string {
	if p == "" {
		return ""
	}
	if strings.HasPrefix(p, "$") || strings.HasPrefix(p, "%") {
		return "the path starts with a variable, which the server may expand to anywhere"
	}
	if len(p) >= 2 && p[1] == ':' && (p[0] >= 'a' && p[0] <= 'z' || p[0] >= 'A' && p[0] <= 'Z') {
		return "the path has a drive letter, outside every allowed directory"
	}
	p = strings.ReplaceAll(p, `\`, "/")
	if p == "~" || strings.HasPrefix(p, "~") {
		if j.home == "" {
			return "the path starts with ~, which the server may expand to a home directory"
		}
		rest := strings.TrimPrefix(p, "~")
		if rest != "" && rest[0] != '/' {
			return "the path starts with ~user, another user's home directory"
		}
		p = j.home + rest
	}
	if filepath.IsAbs(p) {
		real := resolve(p)
		for _, root := range j.roots {
			if inside(root, real) {
				return ""
			}
		}
		return fmt.Sprintf("it resolves to %s, outside %s", real, strings.Join(j.roots, ", "))
	}
	for _, root := range j.roots {
		real := resolve(filepath.Join(root, p))
		if !inside(root, real) {
			return fmt.Sprintf("relative to %s it resolves to %s, outside it", root, real)
		}
	}
	return ""
}

// resolve cleans an absolute path and resolves the symlinks of its
// longest existing prefix. What does not exist yet cannot be a link.
func resolve(p string) string {
	p = filepath.Clean(p)
	rest := ""
	for cur := p; ; {
		real, err := filepath.EvalSymlinks(cur)
		if err == nil {
			return filepath.Join(real, rest)
		}
		if !errors.Is(err, fs.ErrNotExist) && !errors.Is(err, fs.ErrPermission) && !isNotDir(err) {
			return filepath.Join(cur, rest)
		}
		parent := filepath.Dir(cur)
		if parent == cur {
			return p
		}
		rest = filepath.Join(filepath.Base(cur), rest)
		cur = parent
	}
}

func isNotDir(err error) bool {
	var pe *fs.PathError
	return errors.As(err, &pe) && strings.Contains(pe.Err.Error(), "not a directory")
}

func inside(root, p string) bool {
	rel, err := filepath.Rel(root, p)
	return err == nil && rel != ".." && !strings.HasPrefix(rel, "../") && !filepath.IsAbs(rel)
}

func clip(s string) string {
	if len(s) > 120 {
		return s[:120] + "…"
	}
	return s
}
