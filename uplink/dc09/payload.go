package dc09

import (
	"fmt"
	"strconv"
)

// Contact ID event qualifiers (the Q in QXYZ).
const (
	// QualifierNew is a new event or an opening (disarm).
	QualifierNew = 1
	// QualifierRestore is a restore or a closing (arm).
	QualifierRestore = 3
	// QualifierStatus is a previously reported condition still present.
	QualifierStatus = 6
)

// ContactID returns the data field of an ADM-CID message, "#acct|QXYZ GG CCC":
// qualifier Q (1 new, 3 restore, 6 status), the three-digit event code XYZ,
// the two-digit group (partition) GG and the three-digit zone or user number
// CCC. As DC-09 requires, there is no "18" message type and no checksum.
// ContactID("1234", 1, 130, 1, 1) is "#1234|1130 01 001". An empty account
// leaves out "#acct", as some panels do.
func ContactID(account string, qualifier, code, group, zone int) (string, error) {
	if err := checkDataAccount(account); err != nil {
		return "", fmt.Errorf("contact id: %w", err)
	}
	switch qualifier {
	case QualifierNew, QualifierRestore, QualifierStatus:
	default:
		return "", fmt.Errorf("contact id: %w: qualifier %d is not 1, 3 or 6", ErrInvalid, qualifier)
	}
	if code < 0 || code > 999 {
		return "", fmt.Errorf("contact id: %w: event code %d is not 3 digits", ErrInvalid, code)
	}
	if group < 0 || group > 99 {
		return "", fmt.Errorf("contact id: %w: group %d is not 2 digits", ErrInvalid, group)
	}
	if zone < 0 || zone > 999 {
		return "", fmt.Errorf("contact id: %w: zone %d is not 3 digits", ErrInvalid, zone)
	}
	b := make([]byte, 0, 1+len(account)+1+11)
	b = appendAccount(b, account)
	b = append(b, byte('0'+qualifier))
	b = appendDigits(b, code, 3)
	b = append(b, ' ')
	b = appendDigits(b, group, 2)
	b = append(b, ' ')
	b = appendDigits(b, zone, 3)
	return string(b), nil
}

// SIADCS returns the data field of a SIA-DCS message, "#acct|Nri<area>/<code><zone>":
// a new event (N) for area (the "ri" partition field, left out when area is
// 0), the two-letter SIA event code (BA burglary, CL closing, …) and the zone
// or user number, at least two digits. SIADCS("1234", "BA", 1, 1) is
// "#1234|Nri1/BA01" and SIADCS("1234", "BA", 1, 0) is "#1234|NBA01". An
// empty account leaves out "#acct", as some panels do.
func SIADCS(account, code string, zone, area int) (string, error) {
	if err := checkDataAccount(account); err != nil {
		return "", fmt.Errorf("sia-dcs: %w", err)
	}
	if len(code) != 2 || code[0] < 'A' || code[0] > 'Z' || code[1] < 'A' || code[1] > 'Z' {
		return "", fmt.Errorf("sia-dcs: %w: event code %q is not two capital letters", ErrInvalid, code)
	}
	if zone < 0 || zone > 9999 {
		return "", fmt.Errorf("sia-dcs: %w: zone %d is not 0–9999", ErrInvalid, zone)
	}
	if area < 0 || area > 999 {
		return "", fmt.Errorf("sia-dcs: %w: area %d is not 0–999", ErrInvalid, area)
	}
	b := make([]byte, 0, 1+len(account)+1+16)
	b = appendAccount(b, account)
	b = append(b, 'N')
	if area > 0 {
		b = append(b, "ri"...)
		b = strconv.AppendInt(b, int64(area), 10)
		b = append(b, '/')
	}
	b = append(b, code...)
	b = appendDigits(b, zone, 2)
	return string(b), nil
}

func checkDataAccount(account string) error {
	if account != "" && !isHex(account, 3, 16) {
		return fmt.Errorf("%w: account %q is not 3–16 hex digits", ErrInvalid, account)
	}
	return nil
}

// appendAccount appends "#acct|", or just "|" for no account.
func appendAccount(b []byte, account string) []byte {
	if account != "" {
		b = append(b, '#')
		b = append(b, account...)
	}
	return append(b, '|')
}

// appendDigits appends v in decimal, zero-padded to at least width digits.
func appendDigits(b []byte, v, width int) []byte {
	s := strconv.Itoa(v)
	for i := len(s); i < width; i++ {
		b = append(b, '0')
	}
	return append(b, s...)
}
