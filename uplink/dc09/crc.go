package dc09

// crcTable is the byte-at-a-time table for CRC-16/ARC (polynomial 0x8005,
// reflected as 0xA001).
var crcTable = func() [256]uint16 {
	var t [256]uint16
	for i := range t {
		c := uint16(i)
		for range 8 {
			if c&1 != 0 {
				c = c>>1 ^ 0xA001
			} else {
				c >>= 1
			}
		}
		t[i] = c
	}
	return t
}()

// CRC returns the CRC-16/ARC of p (polynomial 0x8005 reflected, initial value
// 0, no final XOR), the checksum DC-09 puts in front of every frame. It is not
// CRC-16/CCITT: CRC([]byte("123456789")) is 0xBB3D.
func CRC(p []byte) uint16 {
	var c uint16
	for _, b := range p {
		c = c>>8 ^ crcTable[byte(c)^b]
	}
	return c
}
