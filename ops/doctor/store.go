package doctor

import (
	"errors"
	"fmt"
	"os"
	"strings"

	"vakt/hub"
)

// storeCheck runs `vakt store check`'s check on the store, or says why it cannot.
func (d *doctor) storeCheck() Check {
	c := Check{What: "store " + d.storePath}
	r, err := hub.CheckStore(d.storePath)
	switch {
	case errors.Is(err, os.ErrNotExist):
		c.Status, c.Detail = Warn, "none yet: vakt has not run with this data directory"
		c.Fix = "check data_dir (or --data) if vakt has run before"
		return c
	case errors.Is(err, hub.ErrStoreLocked):
		c.Detail = "in use by the running vakt, which opened it without damage; stop vakt to check every page (vakt store check)"
		return c
	case err != nil:
		c.Status, c.Detail = Fail, err.Error()
		c.Fix = "vakt store salvage -o NEWFILE saves what can be read"
		return c
	}
	if r.Damaged() {
		c.Status = Fail
		c.Detail = fmt.Sprintf("damaged: %s", strings.Join(r.Problems, "; "))
		c.Fix = "vakt store salvage -o NEWFILE saves what can be read; then move it in place"
		return c
	}
	c.Detail = fmt.Sprintf("sound, %d events", r.Events)
	if r.Events > 0 {
		c.Detail += fmt.Sprintf(" (%d to %d)", r.FirstSeq, r.LastSeq)
	}
	return c
}
