// Package jsonscan walks the members of a JSON object without decoding
// it, for hot paths that only need to find a few fields (the gateway's
// stdio fast path reads a tools/call's method, id, name and arguments,
// and a response's id, on every call).
//
// It checks structure only as far as it must to find member boundaries:
// callers that pass values on must check them with [encoding/json.Valid]
// (or know the input was checked) first.
package jsonscan

import "unicode/utf8"

// Object calls fn for each member of the JSON object in data, in order,
// with the key's raw bytes between its quotes and the value's raw bytes.
// escaped reports that the key contains a backslash escape, so its raw
// bytes are not its text. fn returns false to stop early. Object reports
// whether data is one object (surrounded only by whitespace) whose
// members it could delimit and fn did not stop it.
func Object(data []byte, fn func(key []byte, escaped bool, value []byte) bool) bool {
	i := skipSpace(data, 0)
	if i >= len(data) || data[i] != '{' {
		return false
	}
	i = skipSpace(data, i+1)
	if i < len(data) && data[i] == '}' {
		return skipSpace(data, i+1) == len(data)
	}
	for {
		if i >= len(data) || data[i] != '"' {
			return false
		}
		end, escaped, ok := stringEnd(data, i)
		if !ok {
			return false
		}
		key := data[i+1 : end-1]
		i = skipSpace(data, end)
		if i >= len(data) || data[i] != ':' {
			return false
		}
		i = skipSpace(data, i+1)
		vend, ok := valueEnd(data, i)
		if !ok {
			return false
		}
		if !fn(key, escaped, data[i:vend]) {
			return false
		}
		i = skipSpace(data, vend)
		if i >= len(data) {
			return false
		}
		switch data[i] {
		case ',':
			i = skipSpace(data, i+1)
		case '}':
			return skipSpace(data, i+1) == len(data)
		default:
			return false
		}
	}
}

// Fields finds the members named by keys (plain keys, without escapes)
// and stores their values in vals, which must be as long as keys. It
// reports false if data is not an object, or has a member that is not
// in keys, has an escaped key, or has a key twice: such objects are
// decoded differently by different JSON libraries (which duplicate wins,
// whether escapes are folded), so a caller that forwards what it read
// must not guess.
func Fields(data []byte, keys []string, vals [][]byte) bool {
	for i := range vals {
		vals[i] = nil
	}
	return Object(data, func(key []byte, escaped bool, value []byte) bool {
		if escaped {
			return false
		}
		for i, k := range keys {
			if string(key) == k {
				if vals[i] != nil {
					return false
				}
				vals[i] = value
				return true
			}
		}
		return false
	})
}

// Member returns the value of the first member of the object in data
// named key (an unescaped key), or nil if there is none or data is not
// an object.
func Member(data []byte, key string) []byte {
	var val []byte
	Object(data, func(k []byte, escaped bool, v []byte) bool {
		if !escaped && string(k) == key {
			val = v
			return false
		}
		return true
	})
	return val
}

// PlainString returns the text of a JSON string value with no escapes
// and valid UTF-8 (so its bytes are its text), and false for any other
// value.
func PlainString(v []byte) (string, bool) {
	if len(v) < 2 || v[0] != '"' || v[len(v)-1] != '"' || !utf8.Valid(v) {
		return "", false
	}
	for _, c := range v[1 : len(v)-1] {
		if c == '\\' || c == '"' || c < 0x20 {
			return "", false
		}
	}
	return string(v[1 : len(v)-1]), true
}

func skipSpace(data []byte, i int) int {
	for i < len(data) {
		switch data[i] {
		case ' ', '\t', '\n', '\r':
			i++
		default:
			return i
		}
	}
	return i
}

// stringEnd returns the index after the string starting at data[i].
func stringEnd(data []byte, i int) (end int, escaped, ok bool) {
	for j := i + 1; j < len(data); j++ {
		switch data[j] {
		case '\\':
			escaped = true
			j++
		case '"':
			return j + 1, escaped, true
		}
	}
	return 0, false, false
}

// valueEnd returns the index after the value starting at data[i].
func valueEnd(data []byte, i int) (int, bool) {
	if i >= len(data) {
		return 0, false
	}
	switch data[i] {
	case '"':
		end, _, ok := stringEnd(data, i)
		return end, ok
	case '{', '[':
		depth := 0
		for j := i; j < len(data); j++ {
			switch data[j] {
			case '"':
				end, _, ok := stringEnd(data, j)
				if !ok {
					return 0, false
				}
				j = end - 1
			case '{', '[':
				depth++
			case '}', ']':
				depth--
				if depth == 0 {
					return j + 1, true
				}
			}
		}
		return 0, false
	}
	j := i
	for j < len(data) {
		switch data[j] {
		case ',', '}', ']', ' ', '\t', '\n', '\r':
			return j, j > i
		case '"', '{', '[', ':':
			return 0, false
		}
		j++
	}
	return j, j > i
}
