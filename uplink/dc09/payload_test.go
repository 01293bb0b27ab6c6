package dc09

import (
	"errors"
	"testing"
)

func TestContactID(t *testing.T) {
	tests := []struct {
		name                         string
		account                      string
		qualifier, code, group, zone int
		want                         string
		wantErr                      error
	}{
		{"burglary zone 1", "1234", QualifierNew, 130, 1, 1, "#1234|1130 01 001", nil},
		{"closing by user 3", "1234", QualifierRestore, 401, 1, 3, "#1234|3401 01 003", nil},
		{"vector 4F39", "4F39", QualifierRestore, 401, 1, 57, "#4F39|3401 01 057", nil},
		{"status, large numbers", "0123456789ABCDEF", QualifierStatus, 999, 99, 999, "#0123456789ABCDEF|6999 99 999", nil},
		{"zeros", "0000", QualifierNew, 0, 0, 0, "#0000|1000 00 000", nil},
		{"no account", "", QualifierNew, 602, 0, 0, "|1602 00 000", nil},
		{"qualifier 2", "1234", 2, 130, 1, 1, "", ErrInvalid},
		{"code 1000", "1234", QualifierNew, 1000, 1, 1, "", ErrInvalid},
		{"negative code", "1234", QualifierNew, -1, 1, 1, "", ErrInvalid},
		{"group 100", "1234", QualifierNew, 130, 100, 1, "", ErrInvalid},
		{"zone 1000", "1234", QualifierNew, 130, 1, 1000, "", ErrInvalid},
		{"account too short", "12", QualifierNew, 130, 1, 1, "", ErrInvalid},
		{"account not hex", "12G4", QualifierNew, 130, 1, 1, "", ErrInvalid},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ContactID(tc.account, tc.qualifier, tc.code, tc.group, tc.zone)
			if !errors.Is(err, tc.wantErr) {
				t.Fatalf("ContactID error = %v, want %v", err, tc.wantErr)
			}
			if got != tc.want {
				t.Errorf("ContactID = %q, want %q", got, tc.want)
			}
		})
	}
}

func TestSIADCS(t *testing.T) {
	tests := []struct {
		name       string
		account    string
		code       string
		zone, area int
		want       string
		wantErr    error
	}{
		{"burglary zone 1 area 1", "1234", "BA", 1, 1, "#1234|Nri1/BA01", nil},
		{"no area", "1234", "BA", 1, 0, "#1234|NBA01", nil},
		{"closing by user 501, no account", "", "CL", 501, 1, "|Nri1/CL501", nil},
		{"area 2 zone 12", "", "JC", 12, 2, "|Nri2/JC12", nil},
		{"zone 0", "1234", "RP", 0, 0, "#1234|NRP00", nil},
		{"zone 9999 area 999", "1234", "FA", 9999, 999, "#1234|Nri999/FA9999", nil},
		{"lower-case code", "1234", "ba", 1, 1, "", ErrInvalid},
		{"three-letter code", "1234", "BAX", 1, 1, "", ErrInvalid},
		{"zone 10000", "1234", "BA", 10000, 1, "", ErrInvalid},
		{"negative area", "1234", "BA", 1, -1, "", ErrInvalid},
		{"area 1000", "1234", "BA", 1, 1000, "", ErrInvalid},
		{"account too long", "12345678901234567", "BA", 1, 1, "", ErrInvalid},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := SIADCS(tc.account, tc.code, tc.zone, tc.area)
			if !errors.Is(err, tc.wantErr) {
				t.Fatalf("SIADCS error = %v, want %v", err, tc.wantErr)
			}
			if got != tc.want {
				t.Errorf("SIADCS = %q, want %q", got, tc.want)
			}
		})
	}
}

// TestPayload_Vectors builds the data of the vector frames with the helpers
// and checks the whole frame.
func TestPayload_Vectors(t *testing.T) {
	sia, err := SIADCS("1234", "BA", 1, 1)
	if err != nil {
		t.Fatal(err)
	}
	cid, err := ContactID("1234", QualifierNew, 130, 1, 1)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name  string
		msg   Message
		frame string
	}{
		{"SIA-DCS", Message{ID: IDSIADCS, Seq: 1, Line: "0", Account: "1234", Data: sia, Timestamp: vectorAt, HasTimestamp: true}, vectorSIADCS},
		{"ADM-CID", Message{ID: IDContactID, Seq: 2, Line: "0", Account: "1234", Data: cid, Timestamp: vectorAt, HasTimestamp: true}, vectorCID},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Encode(tc.msg, nil, nil)
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != string(lf(tc.frame)) {
				t.Errorf("Encode = %q, want %q", got, lf(tc.frame))
			}
		})
	}
}
