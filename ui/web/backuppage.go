package web

import (
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"github.com/gofiber/fiber/v2"

	"vakt/hub"
)

// Backups is what the Backup page shows of the scheduled backups (hub.BackupSchedule).
type Backups interface {
	Status() hub.BackupStatus
}

// backupView is the Backup page and its JSON twin: this vakt's version and store schema,
// the scheduled backups, and how to restore.
type backupView struct {
	Version  string           `json:"version"`
	Schema   int              `json:"schema"`
	Store    string           `json:"store"`
	Schedule hub.BackupStatus `json:"schedule"`
	// MinPassphrase is the fewest characters a passphrase may have.
	MinPassphrase int `json:"min_passphrase"`
	// Restore is the command that restores a backup into this vakt's data directory.
	Restore string `json:"restore"`
	Error   string `json:"-"`
}

func (s *Server) backupView() backupView {
	v := backupView{Version: s.version, Schema: hub.SchemaVersion, Store: s.store.Path(), MinPassphrase: hub.MinBackupPassphrase}
	if s.backups != nil {
		v.Schedule = s.backups.Status()
	}
	v.Restore = "vakt restore -data " + filepath.Dir(s.store.Path()) + " FILE"
	if filepath.Base(s.store.Path()) == "demo.db" {
		v.Restore = "vakt restore -demo -data " + filepath.Dir(s.store.Path()) + " FILE"
	}
	return v
}

// backupPage shows the Backup page to an admin.
func (s *Server) backupPage(c *fiber.Ctx) error {
	return s.renderBackup(c, http.StatusOK, "")
}

func (s *Server) renderBackup(c *fiber.Ctx, status int, problem string) error {
	v := s.backupView()
	v.Error = problem
	return s.render(c, status, "backup", page{Title: translate(lang(c), "backup"), Data: v})
}

// apiBackup is the Backup page's JSON twin.
func (s *Server) apiBackup(c *fiber.Ctx) error { return c.JSON(s.backupView()) }

// backupDownload streams an encrypted backup of the whole store as a file, made while the
// hub runs. The form's passphrase must be long enough and typed twice alike; a refused
// one shows the page again with why.
func (s *Server) backupDownload(c *fiber.Ctx) error {
	pass, again := c.FormValue("passphrase"), c.FormValue("passphrase_again")
	switch {
	case hub.CheckBackupPassphrase(pass) != nil:
		return s.renderBackup(c, http.StatusBadRequest, translate(lang(c), "backup_short"))
	case pass != again:
		return s.renderBackup(c, http.StatusBadRequest, translate(lang(c), "backup_mismatch"))
	}
	return s.sendBackup(c, pass)
}

// apiBackupDownload is backupDownload for the API: {"passphrase": …} in, the file out.
func (s *Server) apiBackupDownload(c *fiber.Ctx) error {
	var r struct {
		Passphrase string `json:"passphrase"`
	}
	if err := body(c, &r); err != nil {
		return err
	}
	if hub.CheckBackupPassphrase(r.Passphrase) != nil {
		return invalidKey("passphrase", "backup_short")
	}
	return s.sendBackup(c, r.Passphrase)
}

// sendBackup writes the backup to a temporary file beside the store, then sends that: the
// store's read transaction lasts as long as the local disk takes, never as long as a slow
// phone takes to download. The file is unlinked at once and gone when it is sent.
func (s *Server) sendBackup(c *fiber.Ctx, pass string) error {
	f, err := os.CreateTemp(filepath.Dir(s.store.Path()), ".backup-download-*")
	if err != nil {
		return err
	}
	os.Remove(f.Name())
	err = s.store.Backup(f, pass)
	var size int64
	if err == nil {
		size, err = f.Seek(0, 1)
	}
	if err == nil {
		_, err = f.Seek(0, 0)
	}
	if err != nil {
		f.Close()
		if errors.Is(err, hub.ErrPassphraseShort) {
			return invalidKey("passphrase", "backup_short")
		}
		return err
	}
	name := "vakt-backup-" + s.now().UTC().Format("20060102T150405Z") + ".age"
	s.log.Info("backup downloaded", "user", sess(c).User, "size", size)
	c.Set(fiber.HeaderContentType, "application/octet-stream")
	c.Set(fiber.HeaderContentDisposition, `attachment; filename="`+name+`"`)
	c.Set(fiber.HeaderCacheControl, "no-store")
	return c.SendStream(f, int(size)) // fasthttp closes f once it is sent
}

func init() {
	templateFuncs["duration"] = func(d time.Duration) string { return d.String() }
}
