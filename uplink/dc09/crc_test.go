package dc09

import (
	"fmt"
	"strconv"
	"testing"
)

func TestCRC(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want uint16
	}{
		{"check value", "123456789", 0xBB3D},
		{"empty", "", 0x0000},
		{"crc-only SIA-DCS CL", `"SIA-DCS"6002L0#AAA[|Nri1/CL501]_14:12:04,09-25-2019`, 0xE5D5},
		{"crc-only SIA-DCS JC", `"SIA-DCS"6002L0#AAA[|Nri2/JC12]_12:58:23,09-15-2021`, 0x97F9},
		{"crc-only SIA-DCS with M block", `"SIA-DCS"6002L0#AAA[|Nri1/CL501][M0026B9E4268B]_14:12:04,09-25-2019`, 0x8757},
		{"crc-only ADM-CID without timestamp", `"ADM-CID"0247R4F39L4F39#4F39[#4F39|3401 01 057]`, 0x5715},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := CRC([]byte(tc.in)); got != tc.want {
				t.Errorf("CRC(%q) = %04X, want %04X", tc.in, got, tc.want)
			}
		})
	}
}

// TestCRC_VectorFrames checks the CRC and length fields of every published
// frame, including encrypted ones whose key is not published.
func TestCRC_VectorFrames(t *testing.T) {
	for _, v := range vectorFrames {
		t.Run(v[:8], func(t *testing.T) {
			body := v[8:]
			if got := fmt.Sprintf("%04X", CRC([]byte(body))); got != v[:4] {
				t.Errorf("CRC = %s, frame says %s", got, v[:4])
			}
			n, err := strconv.ParseUint(v[4:8], 16, 16)
			if err != nil || int(n) != len(body) {
				t.Errorf("length field %s, body has %d bytes", v[4:8], len(body))
			}
		})
	}
}

func BenchmarkCRC(b *testing.B) {
	p := []byte(vectorSIADCSEncrypted[8:])
	b.SetBytes(int64(len(p)))
	for b.Loop() {
		CRC(p)
	}
}
