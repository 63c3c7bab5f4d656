package pin

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
)

// LockVersion is the lockfile format version this package reads and
// writes. Files of any other version are rejected.
const LockVersion = 1

// DefaultLockfile is the lockfile name used when none is given.
const DefaultLockfile = "mcpwarden.lock"

// Lock is the content of mcpwarden.lock.
type Lock struct {
	Version int `json:"version"`
	// Servers are keyed by [Identity.Key].
	Servers map[string]*ServerLock `json:"servers"`
}

// ServerLock is what was trusted for one server.
type ServerLock struct {
	// Key is the map key in [Lock.Servers], filled in on read.
	Key string `json:"-"`
	// Name is the declared name when pinned, for display and for naming
	// the server to Approve.
	Name string `json:"name"`
	// Identity is [Identity.ID] when pinned: with version or digest.
	Identity string `json:"identity"`
	Pinned   bool   `json:"pinned"`

	Instructions      *Entry           `json:"instructions,omitempty"`
	Tools             map[string]Entry `json:"tools"`
	Prompts           map[string]Entry `json:"prompts"`
	ResourceTemplates map[string]Entry `json:"resource_templates"` // by uriTemplate
}

// Entry is one pinned definition: its hash and its canonical JSON, kept
// so that a later change can be explained, not just detected.
type Entry struct {
	SHA256     string          `json:"sha256"`
	Definition json.RawMessage `json:"definition"`
	// Approved records that a person accepted this exact definition with
	// `mcpwarden pin approve`, as opposed to it being pinned on first
	// use. The gateway withholds a definition its detector judges
	// poisoned unless it is approved. The flag is not part of the hash.
	Approved bool `json:"approved,omitempty"`
}

// NewLock returns an empty lock of the current version.
func NewLock() *Lock { return &Lock{Version: LockVersion, Servers: map[string]*ServerLock{}} }

// Put records a server's current definitions, replacing what was there.
// An approval sticks to the exact definition: entries whose hash is
// unchanged keep their Approved flag.
func (l *Lock) Put(s *ServerLock) {
	if l.Servers == nil {
		l.Servers = map[string]*ServerLock{}
	}
	next := s.clone()
	if old, ok := l.Servers[s.Key]; ok {
		keepApproved(old.Tools, next.Tools)
		keepApproved(old.Prompts, next.Prompts)
		keepApproved(old.ResourceTemplates, next.ResourceTemplates)
		if old.Instructions != nil && next.Instructions != nil && old.Instructions.SHA256 == next.Instructions.SHA256 && old.Instructions.Approved {
			next.Instructions.Approved = true
		}
	}
	l.Servers[s.Key] = next
}

func keepApproved(old, next map[string]Entry) {
	for k, e := range next {
		if o, ok := old[k]; ok && o.SHA256 == e.SHA256 && o.Approved {
			e.Approved = true
			next[k] = e
		}
	}
}

// Check compares a server's current definitions with the lock. known is
// false when the server was never pinned (trust on first use is the
// caller's decision).
func (l *Lock) Check(cur *ServerLock) (changes []Change, known bool) {
	old, ok := l.Servers[cur.Key]
	if !ok {
		return nil, false
	}
	return Compare(old, cur), true
}

func (s *ServerLock) clone() *ServerLock {
	c := *s
	c.Tools, c.Prompts, c.ResourceTemplates = cloneMap(s.Tools), cloneMap(s.Prompts), cloneMap(s.ResourceTemplates)
	if s.Instructions != nil {
		e := *s.Instructions
		c.Instructions = &e
	}
	return &c
}

func cloneMap(m map[string]Entry) map[string]Entry {
	out := make(map[string]Entry, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

// Read loads and verifies a lockfile. A missing file is reported with an
// error that satisfies errors.Is(err, fs.ErrNotExist).
func Read(path string) (*Lock, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read lockfile: %w", err)
	}
	l, err := Decode(data)
	if err != nil {
		return nil, fmt.Errorf("lockfile %s: %w", path, err)
	}
	return l, nil
}

// Decode parses and verifies lockfile bytes: the version must be
// [LockVersion], unknown fields and trailing data are rejected, and every
// entry's hash must match its definition.
func Decode(data []byte) (*Lock, error) {
	var head struct {
		Version *int `json:"version"`
	}
	if err := json.NewDecoder(bytes.NewReader(data)).Decode(&head); err != nil {
		return nil, fmt.Errorf("not a lockfile: %w", err)
	}
	if head.Version == nil {
		return nil, errors.New("no version field")
	}
	if *head.Version != LockVersion {
		return nil, fmt.Errorf("unsupported lockfile version %d (this mcpwarden reads version %d)", *head.Version, LockVersion)
	}
	d := json.NewDecoder(bytes.NewReader(data))
	d.DisallowUnknownFields()
	var l Lock
	if err := d.Decode(&l); err != nil {
		return nil, err
	}
	if _, err := d.Token(); err != io.EOF {
		return nil, errors.New("unexpected data after the lock object")
	}
	if l.Servers == nil {
		l.Servers = map[string]*ServerLock{}
	}
	var h Hasher
	for key, s := range l.Servers {
		if s == nil {
			return nil, fmt.Errorf("server %q: null entry", key)
		}
		s.Key = key
		for _, m := range []*map[string]Entry{&s.Tools, &s.Prompts, &s.ResourceTemplates} {
			if *m == nil {
				*m = map[string]Entry{}
			}
		}
		// check verifies an entry and stores its definition canonically.
		check := func(what string, e Entry) (Entry, error) {
			d, canon, err := h.Sum(e.Definition)
			if err != nil {
				return e, fmt.Errorf("server %q %s: definition: %w", key, what, err)
			}
			if d != e.SHA256 {
				return e, fmt.Errorf("server %q %s: sha256 %s does not match its definition (%s): the lockfile was edited by hand or corrupted", key, what, e.SHA256, d)
			}
			e.Definition = append(json.RawMessage(nil), canon...)
			return e, nil
		}
		if s.Instructions != nil {
			e, err := check("instructions", *s.Instructions)
			if err != nil {
				return nil, err
			}
			s.Instructions = &e
		}
		for _, g := range []struct {
			kind string
			m    map[string]Entry
		}{{"tool", s.Tools}, {"prompt", s.Prompts}, {"resource template", s.ResourceTemplates}} {
			for name, e := range g.m {
				e, err := check(g.kind+" "+strconv.Quote(name), e)
				if err != nil {
					return nil, err
				}
				g.m[name] = e
			}
		}
	}
	return &l, nil
}

// Encode renders the lock deterministically: sorted keys, two-space
// indentation, no HTML escaping, a final newline.
func (l *Lock) Encode() ([]byte, error) {
	out := &Lock{Version: LockVersion, Servers: l.Servers}
	if out.Servers == nil {
		out.Servers = map[string]*ServerLock{}
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(out); err != nil {
		return nil, fmt.Errorf("encode lockfile: %w", err)
	}
	return buf.Bytes(), nil
}

// Write stores the lock at path atomically: a temporary file in the same
// directory is written, synced and renamed over the old one, so a crash
// leaves either the old lock or the new one, never a torn file.
func Write(path string, l *Lock) error {
	data, err := l.Encode()
	if err != nil {
		return err
	}
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".*.tmp")
	if err != nil {
		return fmt.Errorf("write lockfile: %w", err)
	}
	tmp := f.Name()
	defer os.Remove(tmp) // no-op after the rename
	if _, err := f.Write(data); err != nil {
		f.Close()
		return fmt.Errorf("write lockfile: %w", err)
	}
	if err := f.Chmod(0o644); err != nil {
		f.Close()
		return fmt.Errorf("write lockfile: %w", err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return fmt.Errorf("write lockfile: %w", err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("write lockfile: %w", err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("write lockfile: %w", err)
	}
	if d, err := os.Open(dir); err == nil {
		_ = d.Sync() // make the rename durable where the OS supports it
		d.Close()
	}
	return nil
}

// Find resolves a server named by lock key, pinned identity or declared
// name. A name shared by several entries is ambiguous.
func (l *Lock) Find(server string) (*ServerLock, error) {
	if s, ok := l.Servers[server]; ok {
		return s, nil
	}
	var found []*ServerLock
	for _, s := range l.Servers {
		if s.Identity == server || s.Name == server {
			found = append(found, s)
		}
	}
	switch len(found) {
	case 0:
		return nil, fmt.Errorf("no server %q in the lockfile", server)
	case 1:
		return found[0], nil
	}
	keys := make([]string, len(found))
	for i, s := range found {
		keys[i] = s.Key
	}
	sort.Strings(keys)
	return nil, fmt.Errorf("server name %q is ambiguous: use one of %s", server, strings.Join(keys, ", "))
}
