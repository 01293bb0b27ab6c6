package notify

import (
	"encoding/hex"
	"strings"
	"unicode/utf16"
)

// gsmBasic is the GSM 03.38 (3GPP TS 23.038) default alphabet, by code.
var gsmBasic = [128]rune{
	'@', '£', '$', '¥', 'è', 'é', 'ù', 'ì', 'ò', 'Ç', '\n', 'Ø', 'ø', '\r', 'Å', 'å',
	'Δ', '_', 'Φ', 'Γ', 'Λ', 'Ω', 'Π', 'Ψ', 'Σ', 'Θ', 'Ξ', 0x1b, 'Æ', 'æ', 'ß', 'É',
	' ', '!', '"', '#', '¤', '%', '&', '\'', '(', ')', '*', '+', ',', '-', '.', '/',
	'0', '1', '2', '3', '4', '5', '6', '7', '8', '9', ':', ';', '<', '=', '>', '?',
	'¡', 'A', 'B', 'C', 'D', 'E', 'F', 'G', 'H', 'I', 'J', 'K', 'L', 'M', 'N', 'O',
	'P', 'Q', 'R', 'S', 'T', 'U', 'V', 'W', 'X', 'Y', 'Z', 'Ä', 'Ö', 'Ñ', 'Ü', '§',
	'¿', 'a', 'b', 'c', 'd', 'e', 'f', 'g', 'h', 'i', 'j', 'k', 'l', 'm', 'n', 'o',
	'p', 'q', 'r', 's', 't', 'u', 'v', 'w', 'x', 'y', 'z', 'ä', 'ö', 'ñ', 'ü', 'à',
}

// gsmCode maps a character to its GSM code. Left out are @ (code 0, a NUL on the serial
// line), Ξ (code 0x1A, Ctrl-Z, which ends a text-mode message) and the escape (0x1B, which
// cancels one); for the same reason the extension table (€ [ ] { } \ ^ ~ |, each behind an
// escape) is not used either. Text with any of them goes as UCS2.
var gsmCode = func() map[rune]byte {
	m := map[rune]byte{}
	for code, r := range gsmBasic {
		switch code {
		case 0x00, 0x1a, 0x1b:
			continue
		}
		m[r] = byte(code)
	}
	return m
}()

// SMS lengths of one message, without concatenation (which text mode cannot do).
const (
	smsMaxGSM  = 160 // septets
	smsMaxUCS2 = 70  // UTF-16 code units
)

// smsEncoding is how one SMS goes to the modem in text mode.
type smsEncoding struct {
	// Charset is the AT+CSCS character set, "GSM" or "UCS2"; DCS the data coding scheme
	// for AT+CSMP (0: GSM 7-bit, 8: UCS2).
	Charset string
	DCS     int
	// Text is what is written after the prompt: GSM codes, one byte each, or the UTF-16
	// code units in hex.
	Text string
}

// encodeSMS chooses the encoding of text: GSM 7-bit when every character is in the GSM
// default alphabet as sent in text mode (gsmCode: å ä ö é ü … are), UCS2 otherwise (an
// emoji, €, Cyrillic …). text must already fit (fitSMS).
func encodeSMS(text string) smsEncoding {
	if b, ok := toGSM(text); ok {
		return smsEncoding{Charset: "GSM", DCS: 0, Text: string(b)}
	}
	return smsEncoding{Charset: "UCS2", DCS: 8, Text: ucs2Hex(text)}
}

// toGSM returns text in GSM codes, and false when a character has none.
func toGSM(text string) ([]byte, bool) {
	out := make([]byte, 0, len(text))
	for _, r := range text {
		c, ok := gsmCode[r]
		if !ok {
			return nil, false
		}
		out = append(out, c)
	}
	return out, true
}

// ucs2Hex is text as UTF-16 code units in upper-case hex (a character beyond the BMP, as
// most emoji, is a surrogate pair: two units).
func ucs2Hex(text string) string {
	units := utf16.Encode([]rune(text))
	b := make([]byte, 0, 2*len(units))
	for _, u := range units {
		b = append(b, byte(u>>8), byte(u))
	}
	return strings.ToUpper(hex.EncodeToString(b))
}

// decodeGSM reads GSM codes (as the modem gives a received message with AT+CSCS="GSM").
func decodeGSM(b []byte) string {
	var s strings.Builder
	for _, c := range b {
		if c < 128 && c != 0x1b {
			s.WriteRune(gsmBasic[c])
		}
	}
	return s.String()
}

// fitSMS makes head + tail one SMS: it keeps tail (the alarm's "Reply OK") whole and cuts
// head to fit, ending it with an ellipsis ("..." in GSM, "…" in UCS2). Text is never split
// over several messages: a cut alarm still arrives at once and says what and where first.
func fitSMS(head, tail string) string {
	whole := head + tail
	if _, ok := toGSM(whole); ok {
		if n := len([]rune(whole)); n <= smsMaxGSM {
			return whole
		}
		room := smsMaxGSM - len([]rune(tail)) - 3
		return string([]rune(head)[:max(room, 0)]) + "..." + tail
	}
	if len(utf16.Encode([]rune(whole))) <= smsMaxUCS2 {
		return whole
	}
	room := smsMaxUCS2 - len(utf16.Encode([]rune(tail))) - 1
	var cut []rune
	n := 0
	for _, r := range head {
		w := utf16.RuneLen(r)
		if n+w > room {
			break
		}
		cut = append(cut, r)
		n += w
	}
	return string(cut) + "…" + tail
}
