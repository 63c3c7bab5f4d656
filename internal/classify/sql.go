package classify

import (
	"regexp"
	"strings"

	"mcpwarden/internal/secrets"
)

// sqlRule is one SQL-injection construct.
type sqlRule struct {
	code   string
	risk   Risk
	detail string
	re     *regexp.Regexp
}

// sqlRules are checked against the value with comments collapsed to
// spaces, so "UN/**/ION SEL/**/ECT" is seen as "UN ION SEL ECT" would not
// be: comments are removed, not replaced, inside words.
var sqlRules = []sqlRule{
	{"sql.union", High, "UNION SELECT appends attacker-chosen rows", regexp.MustCompile(`(?i)\bunion\b(?:\s+(?:all|distinct))?\s+select\b`)},
	{"sql.stacked", High, "a second statement after ';'", regexp.MustCompile(`(?i);\s*(?:select|insert|update|delete|drop|create|alter|truncate|exec|execute|declare|grant|revoke|shutdown|merge|call|copy|attach|pragma|load)\b`)},
	{"sql.tautology", High, "an always-true condition (OR 1=1) bypasses filters", regexp.MustCompile(`(?i)(?:'|"|\)|\b\d+)\s*(?:or|\|\|)\s*(?:'[^']*'\s*=\s*'[^']*'?|"[^"]*"\s*=\s*"[^"]*"?|(\d+)\s*=\s*\d+|true\b|not\s+false\b|\d+\s*(?:>|<|<>|!=)\s*\d+|'[^']*'\s+like\s+'%)`)},
	{"sql.time_delay", High, "time-delay function for blind injection", regexp.MustCompile(`(?i)\b(?:sleep|pg_sleep|benchmark|randomblob)\s*\(|\bwaitfor\s+delay\b|\bdbms_lock\.sleep\b`)},
	{"sql.dangerous_function", Critical, "function that runs commands or reads and writes files", regexp.MustCompile(`(?i)\b(?:xp_cmdshell|sp_oacreate|sp_execute_external_script|load_file|lo_import|lo_export|pg_read_file|pg_ls_dir|copy\s+\w+\s+(?:from|to)\s+program|into\s+(?:out|dump)file|utl_http|dbms_java|load_extension)\b`)},
	{"sql.schema_probe", Medium, "probes the database schema", regexp.MustCompile(`(?i)\b(?:information_schema|pg_catalog|sqlite_master|sqlite_schema|sys\.objects|sysobjects|mysql\.user|pg_shadow|all_tables)\b`)},
	{"sql.comment", Medium, "a comment truncates the rest of the query", regexp.MustCompile(`--(?:\s|$)|/\*|\*/|(?:^|\s)#`)},
	{"sql.ddl", High, "schema-changing or destructive statement", regexp.MustCompile(`(?i)\b(?:drop\s+(?:table|database|schema|user|index|view)|truncate\s+table|alter\s+(?:table|user|role)|grant\s+all|delete\s+from\s+\w+\s*(?:;|$|--))`)},
}

var sqlComment = regexp.MustCompile(`/\*.*?\*/`)

// SQL classifies s as a fragment that may be concatenated into a SQL
// statement: a quote that closes a string literal, tautologies, UNION and
// stacked queries, comments, time delays, schema probes and functions
// that reach the operating system.
func SQL(s string) Result {
	r := Result{Kind: "sql"}
	s = clipInput(&r, s)
	if s == "" {
		return r
	}
	flat := s
	if strings.Contains(s, "/*") {
		r.add("sql.comment", Medium, strings.Index(s, "/*"), "a comment truncates or splits the query")
		flat = sqlComment.ReplaceAllString(s, "")
	}
	for _, rule := range sqlRules {
		if loc := rule.re.FindStringIndex(flat); loc != nil {
			r.add(rule.code, rule.risk, loc[0], "%s", rule.detail)
		}
	}
	if n := strings.Count(s, "'") - 2*strings.Count(s, "''"); n%2 != 0 {
		r.add("sql.quote", Medium, strings.IndexByte(s, '\''), "an unbalanced quote closes a string literal")
	}
	if strings.Contains(s, `\'`) || strings.Contains(s, "%27") || strings.Contains(s, "\u02bc") {
		r.add("sql.quote_escape", Medium, -1, "escaped or encoded quote aimed at a filter")
	}
	return r
}

// Secret classifies s with the credential detector d.
func Secret(d *secrets.Detector, s string) Result {
	r := Result{Kind: "secret"}
	s = clipInput(&r, s)
	for _, m := range d.Find(s) {
		risk := High
		if m.Confidence < 0.8 {
			risk = Medium
		}
		r.add("secret."+m.Type, risk, m.Span.Start, "looks like a %s", m.Type)
	}
	return r
}
