// Package uuidtext recognises the textual form of a UUID (a GUID, an Entra
// object id): 8-4-4-4-12 hexadecimal digits of either case.
package uuidtext

// Valid reports whether s has the 8-4-4-4-12 hexadecimal layout.
func Valid(s string) bool {
	if len(s) != 36 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch i {
		case 8, 13, 18, 23:
			if c != '-' {
				return false
			}
		default:
			if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F') {
				return false
			}
		}
	}
	return true
}
