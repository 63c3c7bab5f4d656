package authn

import (
	"fmt"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"time"

	"mcpwarden/internal/apikey"
	"mcpwarden/internal/confval"
	"mcpwarden/internal/jwt"
)

// Config is the policy.auth section of the gateway config. Its zero value
// turns authentication off, which the gateway accepts only on loopback.
//
//	auth:
//	  resource: https://mcp.example.com/mcp   # public URL of the endpoint
//	  api_keys:
//	    - name: ci-bot                          # becomes caller.subject
//	      hash: sha256:9f86d081...              # mcpwarden policy hash-key
//	      groups: [ci]
//	      expires: 2026-12-31
//	  jwt:
//	    issuer: https://login.example.com/
//	    audience: [https://mcp.example.com/mcp]
//	    jwks_url: https://login.example.com/keys  # optional: discovered
//	    algorithms: [RS256, ES256]
//	    clock_skew: 60s
//	    groups_claim: groups
//	    required_scopes: [mcp]
type Config struct {
	// Resource is the protected resource identifier served in the
	// Protected Resource Metadata: the public URL of the MCP endpoint.
	// Empty means the first JWT audience, or, with API keys only, the URL
	// the request came in on.
	Resource string `yaml:"resource"`
	// ResourceName is shown by clients that display the metadata.
	ResourceName string `yaml:"resource_name"`
	// APIKeys are the accepted API keys, stored hashed.
	APIKeys []APIKey `yaml:"api_keys"`
	// JWT accepts bearer tokens from one OAuth 2.1 / OpenID Connect issuer.
	JWT *JWTConfig `yaml:"jwt"`
}

// APIKey is one accepted API key.
type APIKey struct {
	// Name identifies the caller (caller.subject in rules, the caller in
	// audit records).
	Name string `yaml:"name"`
	// Hash is the key's SHA-256 digest, "sha256:<hex>".
	Hash string `yaml:"hash"`
	// Groups are the caller's groups, for rules.
	Groups []string `yaml:"groups"`
	// Expires, if set, is when the key stops working.
	Expires Expiry `yaml:"expires"`
	// Disabled turns the key off without deleting it.
	Disabled bool `yaml:"disabled"`
}

// JWTConfig validates bearer tokens from one issuer.
type JWTConfig struct {
	// Issuer must equal the tokens' iss claim exactly.
	Issuer string `yaml:"issuer"`
	// Audience lists the accepted aud values; a token must name one.
	Audience []string `yaml:"audience"`
	// JWKSURL is where the issuer publishes its keys. Empty means it is
	// discovered from the issuer's metadata (RFC 8414 or OpenID Connect).
	JWKSURL string `yaml:"jwks_url"`
	// JWKSFile reads the keys from a file instead, for offline setups.
	JWKSFile string `yaml:"jwks_file"`
	// CAFile adds PEM certificates to trust when fetching from the issuer
	// (a private CA).
	CAFile string `yaml:"ca_file"`
	// Algorithms lists the accepted signature algorithms; empty means
	// RS256, PS256, ES256 and EdDSA.
	Algorithms []string `yaml:"algorithms"`
	// ClockSkew tolerates clocks that disagree, on exp, nbf and iat;
	// default 60s (0s for none), at most 5m.
	ClockSkew *confval.Duration `yaml:"clock_skew"`
	// CacheTTL is how long fetched keys are kept when the issuer sends
	// no Cache-Control max-age; default 10m.
	CacheTTL confval.Duration `yaml:"cache_ttl"`
	// SubjectClaim names the claim that identifies the caller; default
	// "sub". Use "email" or "preferred_username" for friendlier names in
	// rules and audit records, if the issuer guarantees they are unique.
	SubjectClaim string `yaml:"subject_claim"`
	// GroupsClaim names the claim that lists the caller's groups or
	// roles (a list of strings, or one space-separated string); default
	// "groups".
	GroupsClaim string `yaml:"groups_claim"`
	// RequiredScopes must all be granted (scope or scp claim); a token
	// without them gets 403 insufficient_scope.
	RequiredScopes []string `yaml:"required_scopes"`
}

// Defaults.
const (
	DefaultClockSkew    = 60 * time.Second
	MaxClockSkew        = 5 * time.Minute
	DefaultSubjectClaim = "sub"
	DefaultGroupsClaim  = "groups"
)

// Expiry is a point in time written as an RFC 3339 timestamp or a date
// (2026-12-31, meaning the start of that day in UTC).
type Expiry struct{ time.Time }

// UnmarshalText implements encoding.TextUnmarshaler.
func (e *Expiry) UnmarshalText(b []byte) error {
	s := string(b)
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		e.Time = t
		return nil
	}
	if t, err := time.Parse(time.DateOnly, s); err == nil {
		e.Time = t
		return nil
	}
	return fmt.Errorf("expected a date such as 2026-12-31 or a timestamp such as 2026-12-31T18:00:00Z, got %q", s)
}

// MarshalText implements encoding.TextMarshaler.
func (e Expiry) MarshalText() ([]byte, error) {
	if e.IsZero() {
		return nil, nil
	}
	return []byte(e.Format(time.RFC3339)), nil
}

// Enabled reports whether any authentication method is configured.
func (c *Config) Enabled() bool { return len(c.APIKeys) > 0 || c.JWT != nil }

var (
	keyNameRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.@:-]{0,127}$`)
	claimRE   = regexp.MustCompile(`^[A-Za-z0-9_.:/-]{1,128}$`)
)

// Validate reports every problem in the section, with paths relative to
// it.
func (c *Config) Validate() confval.Errors {
	var es confval.Errors
	if c.Resource != "" {
		if err := checkResource(c.Resource); err != nil {
			es.Add("resource", "%v", err)
		}
	}
	names := make(map[string]int)
	digests := make(map[apikey.Digest]int)
	for i, k := range c.APIKeys {
		p := fmt.Sprintf("api_keys[%d]", i)
		switch {
		case k.Name == "":
			es.Add(p+".name", "every key needs a name: it is the caller's subject in rules and audit records")
		case !keyNameRE.MatchString(k.Name):
			es.Add(p+".name", "expected 1 to 128 characters from A-Z a-z 0-9 _ . @ : - starting with a letter or digit, got %q", k.Name)
		default:
			if j, dup := names[k.Name]; dup {
				es.Add(p+".name", "the name %q is already used by api_keys[%d]", k.Name, j)
			}
			names[k.Name] = i
		}
		d, err := apikey.ParseHash(k.Hash)
		if err != nil {
			es.Add(p+".hash", "%v", err)
		} else {
			if j, dup := digests[d]; dup {
				es.Add(p+".hash", "the same key is already listed as api_keys[%d]; each caller needs its own key", j)
			}
			digests[d] = i
		}
		for j, g := range k.Groups {
			if strings.TrimSpace(g) == "" {
				es.Add(fmt.Sprintf("%s.groups[%d]", p, j), "empty group name")
			}
		}
	}
	if c.JWT != nil {
		es = append(es, c.JWT.validate()...)
	}
	return es
}

func (j *JWTConfig) validate() confval.Errors {
	var es confval.Errors
	add := func(field, format string, args ...any) { es.Add("jwt."+field, format, args...) }
	if j.Issuer == "" {
		add("issuer", "required: the issuer identifier exactly as it appears in the tokens' iss claim")
	} else if u, err := url.Parse(j.Issuer); err != nil || u.Host == "" || u.RawQuery != "" || u.Fragment != "" {
		add("issuer", "expected an https URL without query or fragment (RFC 8414), got %q", j.Issuer)
	} else if j.JWKSURL == "" && j.JWKSFile == "" {
		if err := jwt.CheckFetchURL(j.Issuer); err != nil {
			add("issuer", "the keys are discovered from the issuer, so %v", err)
		}
	}
	if len(j.Audience) == 0 {
		add("audience", "required: list the aud values issued for this gateway, usually its public URL (a gateway that accepts tokens meant for other services lets them be replayed here)")
	}
	for i, a := range j.Audience {
		if strings.TrimSpace(a) == "" {
			add(fmt.Sprintf("audience[%d]", i), "empty audience")
		}
	}
	switch {
	case j.JWKSURL != "" && j.JWKSFile != "":
		add("jwks_url", "set jwks_url or jwks_file, not both")
	case j.JWKSURL != "":
		if err := jwt.CheckFetchURL(j.JWKSURL); err != nil {
			add("jwks_url", "%v", err)
		}
	}
	for i, a := range j.Algorithms {
		if !slices.Contains(jwt.Algorithms, a) {
			hint := ""
			if strings.HasPrefix(a, "HS") || strings.EqualFold(a, "none") {
				hint = "; unsigned and shared-secret (HMAC) tokens are never accepted"
			}
			add(fmt.Sprintf("algorithms[%d]", i), "%q is not one of %s%s", a, strings.Join(jwt.Algorithms, ", "), hint)
		}
	}
	if j.ClockSkew != nil && j.ClockSkew.D() > MaxClockSkew {
		add("clock_skew", "at most %s; a larger skew keeps expired tokens working", MaxClockSkew)
	}
	if j.CacheTTL != 0 && (j.CacheTTL.D() < jwt.MinCacheTTL || j.CacheTTL.D() > jwt.MaxCacheTTL) {
		add("cache_ttl", "expected between %s and %s", jwt.MinCacheTTL, jwt.MaxCacheTTL)
	}
	if j.SubjectClaim != "" && !claimRE.MatchString(j.SubjectClaim) {
		add("subject_claim", "not a claim name: %q", j.SubjectClaim)
	}
	if j.GroupsClaim != "" && !claimRE.MatchString(j.GroupsClaim) {
		add("groups_claim", "not a claim name: %q", j.GroupsClaim)
	}
	for i, s := range j.RequiredScopes {
		if s == "" || strings.ContainsAny(s, " \t\"\\") {
			add(fmt.Sprintf("required_scopes[%d]", i), "a scope is one token without spaces or quotes, got %q", s)
		}
	}
	return es
}

// checkResource accepts an absolute http(s) URL without a fragment, as
// RFC 9728 §1.2 asks of resource identifiers.
func checkResource(s string) error {
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.Fragment != "" || u.User != nil {
		return fmt.Errorf("expected the endpoint's absolute URL such as https://mcp.example.com/mcp, got %q", s)
	}
	return nil
}

func (j *JWTConfig) clockSkew() time.Duration {
	if j.ClockSkew == nil {
		return DefaultClockSkew
	}
	return j.ClockSkew.D()
}

func (j *JWTConfig) subjectClaim() string {
	if j.SubjectClaim == "" {
		return DefaultSubjectClaim
	}
	return j.SubjectClaim
}

func (j *JWTConfig) groupsClaim() string {
	if j.GroupsClaim == "" {
		return DefaultGroupsClaim
	}
	return j.GroupsClaim
}
