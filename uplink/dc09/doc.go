// Package dc09 speaks SIA DC-09 (ANSI/SIA DC-09-2013), the protocol alarm
// panels use to report events to a monitoring station's receiver over IP.
//
// A frame is
//
//	<LF>CRC0LLL"ID"seqRrcvrLlpref#acct[data][x…]_HH:MM:SS,MM-DD-YYYY<CR>
//
// where CRC is the CRC-16/ARC of everything from the opening quote to the
// CR, in four hex digits, and 0LLL the byte count of the same span. An
// encrypted message marks its ID with '*' ("*SIA-DCS") and replaces all that
// follows "[" with the hex of AES-CBC (zero IV) over pad|data]…_timestamp.
// The receiver answers ACK (echoing sequence, receiver, line and account),
// NAK (timestamp outside its window; carries the receiver's time) or DUH
// (not understood).
//
// Encode and Decode are pure. ContactID and SIADCS build the data field.
// Client is the transport for one receiver path, over TCP or UDP; the
// uplink that owns retries, failover and the event cursor sits above it.
// The package depends on nothing else in vakt.
package dc09
