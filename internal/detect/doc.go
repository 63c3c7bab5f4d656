// Package detect is mcpwarden's detection engine: it decides, offline and
// deterministically, whether MCP content is hostile. The scanner uses it
// on tool, prompt and resource definitions and server instructions; the
// gateway uses it on every tool argument and result.
//
//	eng, err := detect.New(detect.Options{}) // once; share it
//	v, err := eng.InspectTool(rawTool)      // every field, plus schema checks
//	v, err = eng.InspectResult(rawResult)   // content[], structuredContent, resources
//	v = eng.InspectText(detect.Result, text)
//	if v.Flagged || v.Above(finding.SecretExfiltration, 0.3) { ... }
//
// Every text is first normalized (package normalize): escapes and hidden
// characters removed and reported, NFKC, look-alikes folded, encoded
// payloads decoded and scanned again. Rules are data: a versioned pack
// embedded from rules/core.yaml, extended, overridden or disabled by user
// packs (see [Options] and docs/detection.md). One Aho-Corasick pass finds
// every rule keyword (and the secret detector's); each rule's RE2 pattern
// runs only in a window around its keywords. Built-in detectors cover
// hidden content, secrets, prose in tables, schema mismatches and the
// argument classifiers (package classify).
//
// Each firing rule is a signal with a weight for the kind of text;
// counter-evidence scales signals down, combos add signals for
// co-occurring groups, and groups combine by noisy-OR into
// [Verdict.Score] and per-category [Verdict.Scores]. A weak signal such as
// a lone "IMPORTANT:" never flags on its own.
//
// An [Engine] is immutable after [New] and safe for concurrent use.
package detect
