package authn

import (
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"

	"mcpwarden/internal/apikey"
	"mcpwarden/internal/confval"
)

func TestValidate(t *testing.T) {
	h := apikey.Hash(apikey.New())
	skew := confval.Duration(10 * 60e9)
	tests := []struct {
		name string
		cfg  Config
		want []string // paths with errors
	}{
		{"empty", Config{}, nil},
		{"good", Config{Resource: "https://mcp.example.com/mcp", APIKeys: []APIKey{{Name: "ci", Hash: h}}, JWT: &JWTConfig{Issuer: "https://idp.example.com/", Audience: []string{"https://mcp.example.com/mcp"}}}, nil},
		{"plaintext key", Config{APIKeys: []APIKey{{Name: "ci", Hash: apikey.New()}}}, []string{"api_keys[0].hash"}},
		{"no name", Config{APIKeys: []APIKey{{Hash: h}}}, []string{"api_keys[0].name"}},
		{"bad name", Config{APIKeys: []APIKey{{Name: "has space", Hash: h}}}, []string{"api_keys[0].name"}},
		{"duplicate name and key", Config{APIKeys: []APIKey{{Name: "a", Hash: h}, {Name: "a", Hash: h}}}, []string{"api_keys[1].name", "api_keys[1].hash"}},
		{"bad resource", Config{Resource: "mcp.example.com"}, []string{"resource"}},
		{"jwt without issuer and audience", Config{JWT: &JWTConfig{}}, []string{"jwt.issuer", "jwt.audience"}},
		{"plain http issuer", Config{JWT: &JWTConfig{Issuer: "http://idp.example.com", Audience: []string{"x"}}}, []string{"jwt.issuer"}},
		{"plain http issuer with jwks_file", Config{JWT: &JWTConfig{Issuer: "http://idp.example.com", Audience: []string{"x"}, JWKSFile: "/k.json"}}, nil},
		{"HS256", Config{JWT: &JWTConfig{Issuer: "https://i", Audience: []string{"x"}, Algorithms: []string{"HS256"}}}, []string{"jwt.algorithms[0]"}},
		{"both key sources", Config{JWT: &JWTConfig{Issuer: "https://i", Audience: []string{"x"}, JWKSURL: "https://i/k", JWKSFile: "/k"}}, []string{"jwt.jwks_url"}},
		{"huge skew", Config{JWT: &JWTConfig{Issuer: "https://i", Audience: []string{"x"}, ClockSkew: &skew}}, []string{"jwt.clock_skew"}},
		{"scope with space", Config{JWT: &JWTConfig{Issuer: "https://i", Audience: []string{"x"}, RequiredScopes: []string{"a b"}}}, []string{"jwt.required_scopes[0]"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			es := tt.cfg.Validate()
			var got []string
			for _, e := range es {
				got = append(got, e.Path)
			}
			if strings.Join(got, " ") != strings.Join(tt.want, " ") {
				t.Errorf("Validate() = %v, want errors at %v", es, tt.want)
			}
		})
	}
}

func TestExpiry(t *testing.T) {
	tests := []struct {
		in string
		ok bool
	}{{"2026-12-31", true}, {"2026-12-31T18:00:00Z", true}, {"2026-12-31T18:00:00+02:00", true}, {"31/12/2026", false}, {"", false}, {"tomorrow", false}}
	for _, tt := range tests {
		var e Expiry
		if err := e.UnmarshalText([]byte(tt.in)); (err == nil) != tt.ok {
			t.Errorf("UnmarshalText(%q) = %v, want ok %v", tt.in, err, tt.ok)
		}
	}
	var c struct {
		E Expiry `yaml:"e"`
	}
	if err := yaml.Unmarshal([]byte("e: 2026-12-31\n"), &c); err != nil || c.E.Year() != 2026 {
		t.Errorf("yaml date = %v, %v", c.E, err)
	}
}
