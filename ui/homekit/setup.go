package homekit

import (
	"crypto/rand"
	"fmt"
	"math/big"
	"strconv"
	"strings"

	"github.com/brutella/hap"

	"vakt/hub"
)

// Setup is what a person needs to add the bridge to the Home app: the setup code typed or
// scanned, and the setup id that goes into the QR code's payload.
type Setup struct {
	// Code is the 8-digit setup code, without dashes.
	Code string
	// ID is the 4-character setup id.
	ID string
}

// categoryBridge is HAP's accessory category of a bridge.
const categoryBridge = 2

// Pretty returns the code as the Home app shows it: XXX-XX-XXX.
func (s Setup) Pretty() string {
	return s.Code[:3] + "-" + s.Code[3:5] + "-" + s.Code[5:]
}

// Payload returns the X-HM:// setup payload of a bridge reached over IP, what the QR code
// holds (HAP's setup payload: version 0, category, flags, setup code in base 36, then the
// setup id).
func (s Setup) Payload() string {
	code, _ := strconv.ParseUint(s.Code, 10, 32)
	const flagIP = 1 << 1
	v := code | flagIP<<27 | categoryBridge<<31
	enc := strings.ToUpper(strconv.FormatUint(v, 36))
	return "X-HM://" + strings.Repeat("0", max(0, 9-len(enc))) + enc + s.ID
}

// LoadSetup returns the installation's setup code and id, making random ones on first use
// and storing them: there is no default code that every vakt shares.
func LoadSetup(s *hub.Store) (Setup, error) {
	code, err := s.DriverData(driverName, "setup_code")
	if err != nil {
		return Setup{}, err
	}
	id, err := s.DriverData(driverName, "setup_id")
	if err != nil {
		return Setup{}, err
	}
	if len(code) == 8 && len(id) == 4 {
		return Setup{Code: string(code), ID: string(id)}, nil
	}
	st := Setup{}
	for {
		n, err := rand.Int(rand.Reader, big.NewInt(100_000_000))
		if err != nil {
			return Setup{}, fmt.Errorf("setup code: %w", err)
		}
		st.Code = fmt.Sprintf("%08d", n.Int64())
		if _, weak := hap.InvalidPins[st.Code]; !weak {
			break
		}
	}
	const alphabet = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"
	b := make([]byte, 4)
	for i := range b {
		n, err := rand.Int(rand.Reader, big.NewInt(int64(len(alphabet))))
		if err != nil {
			return Setup{}, fmt.Errorf("setup id: %w", err)
		}
		b[i] = alphabet[n.Int64()]
	}
	st.ID = string(b)
	if err := s.SaveDriverData(driverName, "setup_code", []byte(st.Code)); err != nil {
		return Setup{}, err
	}
	if err := s.SaveDriverData(driverName, "setup_id", []byte(st.ID)); err != nil {
		return Setup{}, err
	}
	return st, nil
}
