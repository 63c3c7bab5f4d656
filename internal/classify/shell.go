package classify

import "strings"

// Shell classifies s as it would behave if interpolated into a POSIX
// shell command line, in any quoting context: unquoted, inside double
// quotes, or inside single quotes of a template ('…'+s+'…'). It follows
// quoting as the shell does: substitutions count outside single quotes,
// separators and redirections only outside any quotes, and a quote
// character in the value is reported because it can close the template's
// quotes.
func Shell(s string) Result {
	r := Result{Kind: "shell"}
	s = clipInput(&r, s)
	if s == "" {
		return r
	}
	if s[0] == '-' {
		r.add("shell.option", Medium, 0, "starts with '-': can be read as an option (argument injection)")
	}
	if s[0] == '~' {
		r.add("shell.tilde", Low, 0, "a leading '~' expands to a home directory")
	}
	const (
		unquoted = iota
		single
		double
	)
	state := unquoted
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch c {
		case 0:
			r.add("shell.nul", High, i, "NUL byte truncates the argument in C programs")
			continue
		case '\n', '\r':
			r.add("shell.newline", High, i, "a line break ends the command and starts another")
			continue
		}
		switch state {
		case single:
			if c == '\'' {
				state = unquoted
			}
			continue
		case double:
			switch c {
			case '"':
				state = unquoted
			case '\\':
				i++
			case '$':
				shellDollar(&r, s, i)
			case '`':
				r.add("shell.substitution", High, i, "backtick command substitution")
			}
			continue
		}
		switch c {
		case '\\':
			i++
		case '\'':
			state = single
			r.add("shell.quote", Medium, i, "a single quote can close a quoted template and inject words")
		case '"':
			state = double
			r.add("shell.quote", Medium, i, "a double quote can close a quoted template and inject words")
		case '$':
			shellDollar(&r, s, i)
		case '`':
			r.add("shell.substitution", High, i, "backtick command substitution")
		case ';':
			r.add("shell.separator", High, i, "';' runs a second command")
		case '&':
			if i+1 < len(s) && s[i+1] == '&' {
				r.add("shell.separator", High, i, "'&&' runs a second command")
				i++
			} else if i > 0 && s[i-1] == '>' {
				// >& is a redirection, reported below
			} else {
				r.add("shell.background", High, i, "'&' runs a command in the background and starts another")
			}
		case '|':
			if i+1 < len(s) && s[i+1] == '|' {
				r.add("shell.separator", High, i, "'||' runs a second command")
				i++
			} else {
				r.add("shell.pipe", High, i, "'|' pipes into another command")
			}
		case '<', '>':
			if i+1 < len(s) && s[i+1] == '(' {
				r.add("shell.substitution", High, i, "process substitution")
			} else {
				r.add("shell.redirect", Medium, i, "redirection reads or overwrites files")
			}
		case '*', '?', '[':
			r.add("shell.glob", Low, i, "glob characters expand to file names")
		case '(', ')', '{', '}':
			r.add("shell.grouping", Medium, i, "subshell or brace grouping")
		case '!':
			r.add("shell.history", Low, i, "'!' triggers history expansion in interactive shells")
		case '#':
			if i == 0 || s[i-1] == ' ' || s[i-1] == '\t' {
				r.add("shell.comment", Medium, i, "'#' comments out the rest of the command")
			}
		case '%':
			if j := strings.IndexByte(s[i+1:], '%'); j > 0 && isWord(s[i+1:i+1+j]) {
				r.add("shell.cmd_variable", Medium, i, "%%NAME%% expands a variable in cmd.exe")
			}
		case '^':
			r.add("shell.cmd_escape", Low, i, "'^' escapes metacharacters in cmd.exe")
		}
	}
	if state != unquoted {
		r.add("shell.unbalanced_quote", Medium, len(s), "unbalanced quote changes how the rest of the command parses")
	}
	return r
}

func shellDollar(r *Result, s string, i int) {
	if i+1 >= len(s) {
		return
	}
	switch n := s[i+1]; {
	case n == '(':
		if i+2 < len(s) && s[i+2] == '(' {
			r.add("shell.arithmetic", Medium, i, "$(( )) arithmetic expansion")
		} else {
			r.add("shell.substitution", High, i, "$( ) command substitution")
		}
	case n == '{':
		r.add("shell.variable", Medium, i, "${ } parameter expansion")
	case n == '_' || n >= 'a' && n <= 'z' || n >= 'A' && n <= 'Z' || n >= '0' && n <= '9' || strings.IndexByte("@*#?$!-", n) >= 0:
		r.add("shell.variable", Medium, i, "$NAME expands a variable")
	case n == '\'':
		r.add("shell.ansi_c_quote", Medium, i, "$'...' decodes escapes such as \\x3b")
	}
}

func isWord(s string) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9') {
			return false
		}
	}
	return true
}
