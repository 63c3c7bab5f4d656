package classify

import (
	"net/url"
	"strings"

	"mcpwarden/internal/netclass"
)

// URLResult is the verdict on a URL.
type URLResult struct {
	Result
	Scheme string `json:"scheme,omitempty"`
	// Host is the host as a client would connect to it: percent-decoded,
	// lower-cased, without brackets, port or trailing dot.
	Host string `json:"host,omitempty"`
	Port string `json:"port,omitempty"`
	// Class is the host's network class after every IP spelling
	// (decimal, octal, hex, short forms, IPv4-mapped IPv6, zone IDs, and
	// names such as 127.0.0.1.nip.io that embed an address). Unknown
	// means a name that must be resolved and each address checked.
	Class netclass.Class `json:"class"`
}

// riskyScheme maps schemes a tool should rarely be asked to fetch to why.
var riskyScheme = map[string]string{
	"file": "reads local files", "gopher": "smuggles raw TCP payloads (classic SSRF)", "dict": "talks raw TCP",
	"ftp": "plain-text transfer, often internal", "tftp": "unauthenticated transfer", "ldap": "directory lookups (JNDI)",
	"ldaps": "directory lookups (JNDI)", "jar": "loads archives", "netdoc": "reads local files (Java)",
	"javascript": "runs script", "data": "inline content that bypasses host checks", "vbscript": "runs script",
	"smb": "reaches file shares and leaks credentials", "ssh": "remote shell", "telnet": "remote shell",
	"php": "PHP stream wrappers read files", "phar": "PHP archive deserialization", "expect": "runs commands (PHP)",
	"ws": "unencrypted websocket", "redis": "raw database protocol", "mysql": "raw database protocol",
}

// rebindingSuffixes are wildcard DNS services that resolve a name to the
// address written inside it (127.0.0.1.nip.io → 127.0.0.1).
var rebindingSuffixes = []string{".nip.io", ".sslip.io", ".xip.io", ".localtest.me", ".lvh.me", ".traefik.me", ".backname.io"}

// URL classifies s as a URL a tool would fetch. It does not resolve
// names: a hostname gets class Unknown, and the caller must resolve it
// and classify every address it gets back (and connect to the address it
// checked).
func URL(s string) URLResult {
	r := URLResult{Result: Result{Kind: "url"}}
	s = strings.TrimSpace(clipInput(&r.Result, s))
	if s == "" {
		return r
	}
	if strings.ContainsAny(s, "\x00\r\n\t") {
		r.add("url.control_char", High, strings.IndexAny(s, "\x00\r\n\t"), "control characters split requests (CRLF injection) or confuse parsers")
	}
	if i := strings.IndexByte(s, '\\'); i >= 0 && i < authorityEnd(s) {
		r.add("url.backslash", High, i, "browsers treat '\\' as '/', other parsers do not: the host differs between them")
		s = strings.ReplaceAll(s, `\`, "/")
	}
	u, err := url.Parse(s)
	if err != nil {
		// Go rejects some hosts that lenient clients accept (percent
		// escapes in the host); classify the authority by hand.
		if i := strings.Index(s, "://"); i > 0 {
			r.Scheme = lower(s[:i])
			auth := s[i+3:]
			if j := strings.IndexAny(auth, "/?#"); j >= 0 {
				auth = auth[:j]
			}
			if at := strings.LastIndexByte(auth, '@'); at >= 0 {
				if strings.ContainsAny(auth[:at], ".:") {
					r.add("url.userinfo_confusion", High, -1, "userinfo %q looks like a host", clip(auth[:at]))
				}
				auth = auth[at+1:]
			}
			r.add("url.unparsable", Medium, -1, "not a valid URL: %v", err)
			r.classifyHost(auth)
			return r
		}
	}
	if err != nil || u.Scheme == "" {
		// Schemeless hosts ("169.254.169.254/latest") are still fetched by
		// lenient clients; classify the host part.
		host := s
		if i := strings.IndexAny(host, "/?#"); i >= 0 {
			host = host[:i]
		}
		if err != nil && u == nil {
			r.add("url.unparsable", Medium, -1, "not a valid URL: %v", err)
		}
		r.classifyHost(host)
		return r
	}
	r.Scheme = lower(u.Scheme)
	if why, ok := riskyScheme[r.Scheme]; ok {
		risk := High
		if r.Scheme == "ws" || r.Scheme == "ftp" {
			risk = Medium
		}
		r.add("url.scheme", risk, 0, "scheme %s: %s", r.Scheme, why)
	} else if r.Scheme != "http" && r.Scheme != "https" && r.Scheme != "wss" {
		r.add("url.scheme", Medium, 0, "unusual scheme %s", r.Scheme)
	}
	if u.User != nil {
		name := u.User.Username()
		if _, hasPass := u.User.Password(); hasPass {
			r.add("url.credentials", High, -1, "the URL carries a password")
		}
		if strings.Contains(name, ".") || strings.Contains(name, ":") {
			r.add("url.userinfo_confusion", High, -1, "userinfo %q looks like a host: the real host is %q", clip(name), u.Hostname())
		} else if name != "" {
			r.add("url.userinfo", Medium, -1, "the URL carries a user name")
		}
	}
	if r.Scheme == "data" || r.Scheme == "javascript" || r.Scheme == "file" && u.Host == "" {
		return r
	}
	hostport := u.Host
	r.classifyHost(hostport)
	return r
}

// authorityEnd returns where the authority of s ends (or len(s)).
func authorityEnd(s string) int {
	i := strings.Index(s, "//")
	if i < 0 {
		return len(s)
	}
	for j := i + 2; j < len(s); j++ {
		if s[j] == '/' || s[j] == '?' || s[j] == '#' {
			return j
		}
	}
	return len(s)
}

func (r *URLResult) classifyHost(hostport string) {
	host, port := splitHostPort(hostport)
	if h, changed := percentDecode(host); changed {
		r.add("url.encoded_host", High, -1, "percent-encoded host %q decodes to %q", clip(host), clip(h))
		host = h
	}
	host = strings.TrimSuffix(lower(host), ".")
	r.Host, r.Port = host, port
	if host == "" {
		return
	}
	r.Class = netclass.ClassifyHost(host)
	if r.Class == netclass.Unknown {
		for _, suf := range rebindingSuffixes {
			if strings.HasSuffix(host, suf) {
				inner := strings.TrimSuffix(host, suf)
				if i := strings.LastIndexAny(inner, "-."); i >= 0 && netclass.ClassifyHost(inner) == netclass.Unknown {
					inner = strings.ReplaceAll(inner, "-", ".")
				}
				if c := embeddedClass(inner); c != netclass.Unknown {
					r.Class = c
					r.add("url.rebinding_name", High, -1, "%s resolves to the address it names (%s)", host, c)
				}
				break
			}
		}
	}
	if a, err := netclass.ParseIP(host); err == nil && a.String() != strings.Trim(host, "[]") && !strings.Contains(host, ":") {
		r.add("url.ip_spelling", Medium, -1, "unusual IP spelling %q means %s", host, a)
	}
	switch r.Class {
	case netclass.Metadata:
		r.add("url.internal", Critical, -1, "cloud metadata endpoint (%s): instance credentials live here", host)
	case netclass.Loopback, netclass.Private, netclass.LinkLocal, netclass.Unspecified:
		r.add("url.internal", High, -1, "%s address: reaches services on the host or internal network", r.Class)
	case netclass.Multicast, netclass.Broadcast, netclass.Reserved:
		r.add("url.internal", Medium, -1, "%s address", r.Class)
	case netclass.Unknown:
		r.add("url.unresolved", Low, -1, "host name %q must be resolved and every address checked", clip(host))
	}
	if port != "" && port != "80" && port != "443" {
		r.add("url.port", Low, -1, "non-standard port %s", port)
	}
}

// embeddedClass classifies the rightmost dotted-quad in a name such as
// "app.127.0.0.1" (what a rebinding service will answer with).
func embeddedClass(s string) netclass.Class {
	parts := strings.Split(s, ".")
	if len(parts) >= 4 {
		if c := netclass.ClassifyHost(strings.Join(parts[len(parts)-4:], ".")); c != netclass.Unknown {
			return c
		}
	}
	return netclass.Unknown
}

// splitHostPort splits host[:port], keeping IPv6 literals (with zones)
// whole.
func splitHostPort(hp string) (string, string) {
	if strings.HasPrefix(hp, "[") {
		if i := strings.IndexByte(hp, ']'); i >= 0 {
			host, rest := hp[1:i], hp[i+1:]
			return host, strings.TrimPrefix(rest, ":")
		}
		return strings.TrimPrefix(hp, "["), ""
	}
	if strings.Count(hp, ":") == 1 {
		i := strings.IndexByte(hp, ':')
		return hp[:i], hp[i+1:]
	}
	return hp, ""
}
