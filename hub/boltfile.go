package hub

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"os"
)

// boltFile reads a bbolt file page by page with ReadAt, checking every bound, so that a
// damaged file gives errors instead of bbolt's panics and faults on its memory map. It
// knows bbolt's on-disk format (version 2, little-endian as on every host vakt runs on):
// only what checking and salvaging a store need.
type boltFile struct {
	r        io.ReaderAt
	size     int64
	pageSize int
	meta     boltMeta // the newest valid meta page, the one bbolt would use
	// metaProblems says what is wrong with a meta page that is not valid; a single bad
	// meta page is a torn write bbolt recovers from, both bad are damage.
	metaProblems [2]string
}

// On-disk constants of bbolt v1.x (go.etcd.io/bbolt/internal/common).
const (
	boltMagic          = 0xED0CDAED
	boltVersion        = 2
	boltPageHeaderSize = 16
	boltElementSize    = 16 // both branch and leaf elements
	boltMetaSize       = 64
	boltBranchPage     = 0x01
	boltLeafPage       = 0x02
	boltMetaPage       = 0x04
	boltFreelistPage   = 0x10
	boltBucketLeafFlag = 0x01
	boltNoFreelist     = ^uint64(0)
	boltBucketHeader   = 16 // root pgid, sequence
	boltMaxDepth       = 64
)

type boltMeta struct {
	pageSize uint32
	root     uint64
	freelist uint64
	pgid     uint64 // high water mark: pages in use
	txid     uint64
}

// damage is what is wrong with one part of a store file.
type damage struct {
	// Bucket is the bucket path ("events", "drivers/zigbee2mqtt"), empty for the file.
	Bucket string
	// Page is the damaged page, 0 when the problem is not a page's.
	Page uint64
	// From is the smallest key the damaged page could hold (nil when unknown), To the key
	// from which the next readable page starts (nil when none follows).
	From, To []byte
	Problem  string
}

func (d damage) String() string {
	s := d.Problem
	if d.Page != 0 {
		s = fmt.Sprintf("page %d: %s", d.Page, s)
	}
	if d.Bucket != "" {
		s = fmt.Sprintf("bucket %s: %s", d.Bucket, s)
	}
	return s
}

// openBoltFile reads the meta pages of f and reports, as an error, what makes the file
// unusable: empty, not a bbolt file, both meta pages bad, or shorter than its pages. A
// file cut short still comes with its reader, to read the pages that are there.
func openBoltFile(f *os.File) (*boltFile, error) {
	info, err := f.Stat()
	if err != nil {
		return nil, err
	}
	b := &boltFile{r: f, size: info.Size()}
	if b.size == 0 {
		return nil, errors.New("the file is empty (0 bytes): it was truncated or never written")
	}
	// Page 0 tells the page size; if it is bad, look for page 1 where bbolt would, at
	// every power-of-two page size from 1 KiB.
	var metas [2]*boltMeta
	m, problem := b.readMeta(0)
	metas[0], b.metaProblems[0] = m, problem
	if m != nil {
		b.pageSize = int(m.pageSize)
		metas[1], b.metaProblems[1] = b.readMeta(int64(b.pageSize))
	} else {
		b.metaProblems[1] = "not found"
		for i := 0; i <= 14; i++ {
			pos := int64(1024) << i
			if pos >= b.size-1024 {
				break
			}
			if m, _ := b.readMeta(pos); m != nil && int64(m.pageSize) == pos {
				metas[1], b.metaProblems[1], b.pageSize = m, "", int(pos)
				break
			}
		}
	}
	switch {
	case metas[0] == nil && metas[1] == nil:
		return nil, fmt.Errorf("both meta pages are bad (page 0: %s; page 1: %s): the file's header is overwritten, or it is not a vakt store", b.metaProblems[0], b.metaProblems[1])
	case metas[1] == nil || metas[0] != nil && metas[0].txid > metas[1].txid:
		b.meta = *metas[0]
	default:
		b.meta = *metas[1]
	}
	if need := int64(b.meta.pgid) * int64(b.pageSize); b.size < need {
		return b, fmt.Errorf("the file is truncated: it is %d bytes, but its %d pages need %d", b.size, b.meta.pgid, need)
	}
	return b, nil
}

// readMeta reads and validates the meta page at pos as bbolt does (magic, version,
// checksum); nil and the reason when it is not valid.
func (b *boltFile) readMeta(pos int64) (*boltMeta, string) {
	buf := make([]byte, boltPageHeaderSize+boltMetaSize)
	if n, err := b.r.ReadAt(buf, pos); n < len(buf) {
		return nil, fmt.Sprintf("unreadable (%v)", err)
	}
	m := buf[boltPageHeaderSize:]
	le := binary.LittleEndian
	switch {
	case le.Uint32(m[0:]) != boltMagic:
		return nil, "no bbolt magic number"
	case le.Uint32(m[4:]) != boltVersion:
		return nil, fmt.Sprintf("format version %d, want %d", le.Uint32(m[4:]), boltVersion)
	}
	h := fnv.New64a()
	h.Write(m[:56])
	if h.Sum64() != le.Uint64(m[56:]) {
		return nil, "checksum mismatch"
	}
	meta := &boltMeta{pageSize: le.Uint32(m[8:]), root: le.Uint64(m[16:]), freelist: le.Uint64(m[32:]),
		pgid: le.Uint64(m[40:]), txid: le.Uint64(m[48:])}
	if meta.pageSize < 512 || meta.pageSize > 1<<24 || meta.pageSize&(meta.pageSize-1) != 0 {
		return nil, fmt.Sprintf("page size %d", meta.pageSize)
	}
	if meta.root < 2 || meta.root >= meta.pgid {
		return nil, fmt.Sprintf("root page %d outside 2–%d", meta.root, meta.pgid)
	}
	return meta, ""
}

// page reads page id with its overflow pages, checking that it is one, inside the file,
// of one of the wanted types.
func (b *boltFile) page(id uint64, want ...uint16) ([]byte, error) {
	if id < 2 || id >= b.meta.pgid {
		return nil, fmt.Errorf("page %d is outside the file's pages (2–%d)", id, b.meta.pgid-1)
	}
	pos := int64(id) * int64(b.pageSize)
	buf := make([]byte, b.pageSize)
	if n, err := b.r.ReadAt(buf, pos); n < boltPageHeaderSize || n < len(buf) && err != io.EOF {
		return nil, fmt.Errorf("page %d: unreadable: %v", id, err)
	}
	if got := binary.LittleEndian.Uint64(buf); got != id {
		return nil, fmt.Errorf("page %d says it is page %d: overwritten", id, got)
	}
	flags := binary.LittleEndian.Uint16(buf[8:])
	ok := false
	for _, w := range want {
		ok = ok || flags == w
	}
	if !ok {
		return nil, fmt.Errorf("page %d has type %#x, want %s", id, flags, pageTypes(want))
	}
	overflow := uint64(binary.LittleEndian.Uint32(buf[12:]))
	if id+overflow >= b.meta.pgid {
		return nil, fmt.Errorf("page %d runs past the file's pages (%d overflow pages)", id, overflow)
	}
	if int64(id+overflow+1)*int64(b.pageSize) > b.size {
		return nil, fmt.Errorf("page %d: unreadable: past the end of the file", id)
	}
	if overflow > 0 {
		buf = make([]byte, int64(overflow+1)*int64(b.pageSize))
		if _, err := b.r.ReadAt(buf, pos); err != nil {
			return nil, fmt.Errorf("page %d: unreadable: %v", id, err)
		}
	}
	return buf, nil
}

func pageTypes(want []uint16) string {
	s := ""
	for i, w := range want {
		if i > 0 {
			s += " or "
		}
		s += map[uint16]string{boltBranchPage: "branch", boltLeafPage: "leaf", boltMetaPage: "meta", boltFreelistPage: "freelist"}[w]
	}
	return s
}

// checkFreelist checks the free-page list that bbolt reads when it opens the file.
func (b *boltFile) checkFreelist() error {
	if b.meta.freelist == boltNoFreelist {
		return nil
	}
	p, err := b.page(b.meta.freelist, boltFreelistPage)
	if err != nil {
		return fmt.Errorf("the free-page list is damaged: %w", err)
	}
	count := uint64(binary.LittleEndian.Uint16(p[10:]))
	start := uint64(boltPageHeaderSize)
	if count == 0xFFFF {
		count = binary.LittleEndian.Uint64(p[boltPageHeaderSize:])
		start += 8
	}
	if count > uint64(len(p)) || start+count*8 > uint64(len(p)) {
		return fmt.Errorf("the free-page list is damaged: page %d lists %d pages, more than it holds", b.meta.freelist, count)
	}
	for i := uint64(0); i < count; i++ {
		if id := binary.LittleEndian.Uint64(p[start+i*8:]); id < 2 || id >= b.meta.pgid {
			return fmt.Errorf("the free-page list is damaged: page %d lists page %d, outside the file", b.meta.freelist, id)
		}
	}
	return nil
}

// boltVisitor receives what a walk finds: every key and value (bucket is the path of
// bucket names, value nil for a nested bucket) and every damaged part.
type boltVisitor struct {
	Bucket func(path []string)
	KV     func(path []string, k, v []byte)
	Damage func(damage)
}

// walk visits every bucket, key and value reachable from the root, skipping damaged pages
// (each reported once, with the key range it covered when the parent says).
func (b *boltFile) walk(v boltVisitor) (seen map[uint64]bool) {
	w := walker{b: b, v: v, seen: map[uint64]bool{}}
	w.tree(nil, b.meta.root, nil, nil, nil, 0)
	return w.seen
}

// orphanLeaves visits the keys and values of every sound leaf page the walk did not reach:
// pages cut off from the tree by a damaged parent or a lost root, and also old copies
// bbolt has freed. Only what never changes once written (events) may be taken from them.
func (b *boltFile) orphanLeaves(seen map[uint64]bool, kv func(k, v []byte)) {
	for id := uint64(2); id < b.meta.pgid && int64(id+1)*int64(b.pageSize) <= b.size; id++ {
		if seen[id] {
			continue
		}
		p, err := b.page(id, boltLeafPage)
		if err != nil {
			continue
		}
		w := walker{b: b, v: boltVisitor{KV: func(_ []string, k, v []byte) { kv(k, v) }}, seen: map[uint64]bool{}}
		w.tree([]string{"orphan"}, id, p, nil, nil, boltMaxDepth) // no descent into buckets
	}
}

type walker struct {
	b    *boltFile
	v    boltVisitor
	seen map[uint64]bool
}

func (w *walker) damage(path []string, page uint64, from, to []byte, problem string) {
	if w.v.Damage != nil {
		w.v.Damage(damage{Bucket: joinPath(path), Page: page, From: from, To: to, Problem: problem})
	}
}

// tree walks the subtree at page id (or the inline page), whose keys are from from on and
// below to.
func (w *walker) tree(path []string, id uint64, inline []byte, from, to []byte, depth int) {
	p := inline
	if p == nil {
		if w.seen[id] {
			w.damage(path, id, from, to, "referenced twice (a loop or a shared page)")
			return
		}
		w.seen[id] = true
		var err error
		if p, err = w.b.page(id, boltBranchPage, boltLeafPage); err != nil {
			w.damage(path, id, from, to, trimPage(err, id))
			return
		}
	}
	if depth > boltMaxDepth {
		w.damage(path, id, from, to, "the tree is too deep: a loop")
		return
	}
	le := binary.LittleEndian
	flags, count := le.Uint16(p[8:]), int(le.Uint16(p[10:]))
	if boltPageHeaderSize+count*boltElementSize > len(p) {
		w.damage(path, id, from, to, fmt.Sprintf("%d elements do not fit in the page", count))
		return
	}
	elem := func(i int) []byte { return p[boltPageHeaderSize+i*boltElementSize:][:boltElementSize] }
	// field returns n bytes at pos from the element at i, nil when outside the page.
	field := func(i int, pos, n uint32) []byte {
		start := uint64(boltPageHeaderSize+i*boltElementSize) + uint64(pos)
		if start+uint64(n) > uint64(len(p)) {
			return nil
		}
		return p[start : start+uint64(n)]
	}
	if flags == boltBranchPage {
		for i := 0; i < count; i++ {
			e := elem(i)
			key := field(i, le.Uint32(e[0:]), le.Uint32(e[4:]))
			if key == nil {
				w.damage(path, id, from, to, fmt.Sprintf("branch element %d points outside the page", i))
				return
			}
			var next []byte = to
			if i+1 < count {
				e2 := elem(i + 1)
				if k2 := field(i+1, le.Uint32(e2[0:]), le.Uint32(e2[4:])); k2 != nil {
					next = k2
				}
			}
			w.tree(path, le.Uint64(e[8:]), nil, key, next, depth+1)
		}
		return
	}
	if flags != boltLeafPage {
		w.damage(path, id, from, to, fmt.Sprintf("type %#x, want branch or leaf", flags))
		return
	}
	for i := 0; i < count; i++ {
		e := elem(i)
		eflags, pos, ksize, vsize := le.Uint32(e[0:]), le.Uint32(e[4:]), le.Uint32(e[8:]), le.Uint32(e[12:])
		kv := field(i, pos, ksize+vsize)
		if kv == nil || uint64(ksize)+uint64(vsize) > uint64(len(p)) {
			w.damage(path, id, from, to, fmt.Sprintf("leaf element %d points outside the page", i))
			return
		}
		k, val := kv[:ksize], kv[ksize:]
		if eflags&boltBucketLeafFlag == 0 {
			if w.v.KV != nil {
				w.v.KV(path, k, val)
			}
			continue
		}
		sub := append(append([]string(nil), path...), string(k))
		if len(val) < boltBucketHeader {
			w.damage(sub, 0, nil, nil, "the bucket's header is cut short")
			continue
		}
		if w.v.Bucket != nil {
			w.v.Bucket(sub)
		}
		root := le.Uint64(val)
		if root == 0 {
			if len(val) < boltBucketHeader+boltPageHeaderSize {
				w.damage(sub, 0, nil, nil, "the bucket's inline page is cut short")
				continue
			}
			w.tree(sub, 0, val[boltBucketHeader:], nil, nil, depth+1)
			continue
		}
		w.tree(sub, root, nil, nil, nil, depth+1)
	}
}

// trimPage drops the "page N" prefix that damage.String adds again.
func trimPage(err error, id uint64) string {
	s := err.Error()
	prefix := fmt.Sprintf("page %d ", id)
	if len(s) > len(prefix) && s[:len(prefix)] == prefix {
		return s[len(prefix):]
	}
	prefix = fmt.Sprintf("page %d: ", id)
	if len(s) > len(prefix) && s[:len(prefix)] == prefix {
		return s[len(prefix):]
	}
	return s
}

func joinPath(path []string) string {
	s := ""
	for i, p := range path {
		if i > 0 {
			s += "/"
		}
		s += p
	}
	return s
}
