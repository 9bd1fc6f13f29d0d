package influencerprofiler

/*
#include "ipf_go.h"
*/
import "C"

import (
	"regexp"
	"runtime"
	"strconv"
	"sync"
	"unsafe"
)

// Session is per-goroutine working state on a Model.  Its methods lock a
// mutex, so sharing one is safe but serial; make one per goroutine.
type Session struct {
	mu       sync.Mutex
	p        *C.ipf_session
	Model    *Model
	cropSide int // preprocessed image side, 0 = not yet asked
}

// NewSession creates a session; the model stays open until it is closed.
func (m *Model) NewSession() (*Session, error) {
	// Exclusive: Model.Close must not free the model between creating the
	// session and counting it.
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.p == nil {
		return nil, errClosed("model")
	}
	var sp *C.ipf_session
	p := m.p
	if err := callTLS("ipf_session_create", func() C.ipf_status { return C.ipf_session_create(p, &sp) }); err != nil {
		return nil, err
	}
	m.sessions++
	s := &Session{p: sp, Model: m}
	runtime.SetFinalizer(s, func(s *Session) { s.Close() })
	return s, nil
}

// Close frees the session; closing twice is a no-op.
func (s *Session) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.p == nil {
		return nil
	}
	C.ipf_session_free(s.p)
	s.p = nil
	runtime.SetFinalizer(s, nil)
	s.Model.mu.Lock()
	s.Model.sessions--
	s.Model.mu.Unlock()
	return nil
}

// call runs f on the session handle under the session's lock and turns a
// failure into an *Error with the session's message.
func (s *Session) call(fn string, f func(p *C.ipf_session) C.ipf_status) error {
	if err := need(fn); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.p == nil {
		return errClosed("session")
	}
	if st := f(s.p); st != C.IPF_OK {
		return &Error{Status: Status(st), Message: C.GoString(C.ipf_session_error(s.p))}
	}
	return nil
}

// SetOption sets an option; out-of-bounds values fail and leave it unchanged.
func (s *Session) SetOption(o Option, v int64) error {
	return s.call("ipf_session_set_option", func(p *C.ipf_session) C.ipf_status {
		return C.ipf_session_set_option(p, C.ipf_option(o), C.int64_t(v))
	})
}

// GetOption reads an option.
func (s *Session) GetOption(o Option) (int64, error) {
	var v C.int64_t
	err := s.call("ipf_session_get_option", func(p *C.ipf_session) C.ipf_status {
		return C.ipf_session_get_option(p, C.ipf_option(o), &v)
	})
	return int64(v), err
}

// SetThreads, SetBackend and SetMaxTokens are shorthands for SetOption.
func (s *Session) SetThreads(n int) error     { return s.SetOption(OptThreads, int64(n)) }
func (s *Session) SetBackend(b Backend) error { return s.SetOption(OptBackend, int64(b)) }
func (s *Session) SetMaxTokens(n int) error   { return s.SetOption(OptMaxTokens, int64(n)) }

// ---- text ----

// Tokenize gives the [CLS] ... [SEP] ids of a UTF-8 caption, truncated to
// OptMaxTokens.
func (s *Session) Tokenize(text string) ([]int32, error) {
	capacity := 128
	if v, err := s.GetOption(OptMaxTokens); err == nil {
		capacity = int(v)
	}
	ctext := C.CString(text) // C memory: the library keeps no pointer, but cgo rules forbid none here either
	defer C.free(unsafe.Pointer(ctext))
	for {
		ids := make([]int32, capacity)
		var n C.size_t
		err := s.call("ipf_session_tokenize", func(p *C.ipf_session) C.ipf_status {
			return C.ipf_session_tokenize(p, ctext, C.size_t(len(text)), (*C.int32_t)(unsafe.Pointer(&ids[0])),
				C.size_t(capacity), &n)
		})
		if e, ok := err.(*Error); ok && e.Status == StatusBufferTooSmall && int(n) > capacity {
			capacity = int(n)
			continue
		}
		if err != nil {
			return nil, err
		}
		return ids[:n], nil
	}
}

func f32p(v []float32) *C.float {
	if len(v) == 0 {
		return nil
	}
	return (*C.float)(unsafe.Pointer(&v[0]))
}

// EncodeText is x_T (DimText floats) of one caption.
func (s *Session) EncodeText(text string) ([]float32, error) {
	d, err := s.Model.Dim(DimText)
	if err != nil {
		return nil, err
	}
	out := make([]float32, d)
	ctext := C.CString(text)
	defer C.free(unsafe.Pointer(ctext))
	err = s.call("ipf_session_encode_text", func(p *C.ipf_session) C.ipf_status {
		return C.ipf_session_encode_text(p, ctext, C.size_t(len(text)), f32p(out), C.size_t(len(out)))
	})
	return out, err
}

// split cuts a flat (n, d) buffer into rows.
func split(flat []float32, n, d int) [][]float32 {
	rows := make([][]float32, n)
	for i := range rows {
		rows[i] = flat[i*d : (i+1)*d : (i+1)*d]
	}
	return rows
}

// EncodeTexts is x_T of n captions, one row each.
func (s *Session) EncodeTexts(texts []string) ([][]float32, error) {
	d, err := s.Model.Dim(DimText)
	if err != nil || len(texts) == 0 {
		return nil, err
	}
	n := len(texts)
	var a arena
	defer a.free()
	ptrs := (*[1 << 28]*C.char)(a.alloc(n * int(unsafe.Sizeof((*C.char)(nil)))))[:n:n]
	lens := (*[1 << 28]C.size_t)(a.alloc(n * int(unsafe.Sizeof(C.size_t(0)))))[:n:n]
	for i, t := range texts {
		buf := (*[1 << 30]byte)(a.alloc(len(t) + 1))[: len(t)+1 : len(t)+1]
		copy(buf, t)
		ptrs[i] = (*C.char)(unsafe.Pointer(&buf[0]))
		lens[i] = C.size_t(len(t))
	}
	out := make([]float32, n*d)
	err = s.call("ipf_session_encode_text_batch", func(p *C.ipf_session) C.ipf_status {
		return C.ipf_session_encode_text_batch(p, &ptrs[0], &lens[0], C.size_t(n), f32p(out), C.size_t(len(out)))
	})
	if err != nil {
		return nil, err
	}
	return split(out, n, d), nil
}

// EncodeIDs is x_T of one id sequence starting with [CLS].
func (s *Session) EncodeIDs(ids []int32) ([]float32, error) {
	d, err := s.Model.Dim(DimText)
	if err != nil {
		return nil, err
	}
	out := make([]float32, d)
	var idp *C.int32_t
	if len(ids) > 0 {
		idp = (*C.int32_t)(unsafe.Pointer(&ids[0]))
	}
	err = s.call("ipf_session_encode_ids", func(p *C.ipf_session) C.ipf_status {
		return C.ipf_session_encode_ids(p, idp, C.size_t(len(ids)), f32p(out), C.size_t(len(out)))
	})
	return out, err
}

// EncodeIDsBatch is x_T of n id sequences of any lengths.
func (s *Session) EncodeIDsBatch(seqs [][]int32) ([][]float32, error) {
	d, err := s.Model.Dim(DimText)
	if err != nil || len(seqs) == 0 {
		return nil, err
	}
	n := len(seqs)
	var a arena
	defer a.free()
	ptrs := (*[1 << 28]*C.int32_t)(a.alloc(n * int(unsafe.Sizeof((*C.int32_t)(nil)))))[:n:n]
	lens := (*[1 << 28]C.size_t)(a.alloc(n * int(unsafe.Sizeof(C.size_t(0)))))[:n:n]
	for i, q := range seqs {
		buf := a.alloc(len(q) * 4)
		copy((*[1 << 28]int32)(buf)[:len(q):len(q)], q)
		ptrs[i] = (*C.int32_t)(buf)
		lens[i] = C.size_t(len(q))
	}
	out := make([]float32, n*d)
	err = s.call("ipf_session_encode_ids_batch", func(p *C.ipf_session) C.ipf_status {
		return C.ipf_session_encode_ids_batch(p, &ptrs[0], &lens[0], C.size_t(n), f32p(out), C.size_t(len(out)))
	})
	if err != nil {
		return nil, err
	}
	return split(out, n, d), nil
}

// ---- images ----

func bytesp(b []byte) unsafe.Pointer {
	if len(b) == 0 {
		return nil
	}
	return unsafe.Pointer(&b[0])
}

var cropRe = regexp.MustCompile(`\(3 x (\d+) x (\d+)\)`)

// ImageSide is the side of preprocessed images for this model (ImageSize
// unless the model's image configuration sets another crop), from
// IPF_DIM_IMAGE_SIZE; libraries older than that dimension are asked with an
// empty buffer and the size read from their BufferTooSmall message.
func (s *Session) ImageSide() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cropSide == 0 {
		s.cropSide = ImageSize
		if v, err := s.Model.Dim(DimImageSize); err == nil && v > 0 {
			s.cropSide = v
		} else if s.p != nil && need("ipf_session_preprocess_image") == nil { // libraries before IPF_DIM_IMAGE_SIZE
			var one [1]C.float
			st := C.ipf_session_preprocess_image(s.p, nil, 0, &one[0], 0)
			if st == C.IPF_ERR_BUFFER_TOO_SMALL {
				if m := cropRe.FindStringSubmatch(C.GoString(C.ipf_session_error(s.p))); m != nil {
					if v, err := strconv.Atoi(m[1]); err == nil && v > 0 {
						s.cropSide = v
					}
				}
			}
		}
	}
	return s.cropSide
}

// PreprocessImage decodes and preprocesses an encoded image: 3*side*side CHW
// floats (side = ImageSide(), 299 by default).
func (s *Session) PreprocessImage(data []byte) ([]float32, error) {
	side := s.ImageSide()
	out := make([]float32, 3*side*side)
	err := s.call("ipf_session_preprocess_image", func(p *C.ipf_session) C.ipf_status {
		return C.ipf_session_preprocess_image(p, bytesp(data), C.size_t(len(data)), f32p(out), C.size_t(len(out)))
	})
	return out, err
}

func checkPixels(pix []byte, w, h, c int) error {
	if w <= 0 || h <= 0 || c < 1 || c > 4 || len(pix) != w*h*c {
		return newError(StatusShape, "pixels: %d bytes for width %d, height %d, channels %d", len(pix), w, h, c)
	}
	return nil
}

// PreprocessRGB preprocesses interleaved 8-bit pixels (height, width, channels).
func (s *Session) PreprocessRGB(pix []byte, width, height, channels int) ([]float32, error) {
	if err := checkPixels(pix, width, height, channels); err != nil {
		return nil, err
	}
	side := s.ImageSide()
	out := make([]float32, 3*side*side)
	err := s.call("ipf_session_preprocess_rgb", func(p *C.ipf_session) C.ipf_status {
		return C.ipf_session_preprocess_rgb(p, (*C.uint8_t)(bytesp(pix)), C.int32_t(width), C.int32_t(height),
			C.int32_t(channels), f32p(out), C.size_t(len(out)))
	})
	return out, err
}

func (s *Session) poolBuf(n int) ([]float32, error) {
	d, err := s.Model.Dim(DimImagePool)
	if err != nil {
		return nil, err
	}
	return make([]float32, n*d), nil
}

// EncodeImageFile is the Inception pool features (2048) of an image file.
func (s *Session) EncodeImageFile(path string) ([]float32, error) {
	out, err := s.poolBuf(1)
	if err != nil {
		return nil, err
	}
	cpath := C.CString(path)
	defer C.free(unsafe.Pointer(cpath))
	err = s.call("ipf_session_encode_image_file", func(p *C.ipf_session) C.ipf_status {
		return C.ipf_session_encode_image_file(p, cpath, f32p(out), C.size_t(len(out)))
	})
	return out, err
}

// EncodeImageBytes is the pool features of an encoded image in memory.
func (s *Session) EncodeImageBytes(data []byte) ([]float32, error) {
	out, err := s.poolBuf(1)
	if err != nil {
		return nil, err
	}
	err = s.call("ipf_session_encode_image_memory", func(p *C.ipf_session) C.ipf_status {
		return C.ipf_session_encode_image_memory(p, bytesp(data), C.size_t(len(data)), f32p(out), C.size_t(len(out)))
	})
	return out, err
}

// EncodeImageRGB is the pool features of interleaved 8-bit pixels.
func (s *Session) EncodeImageRGB(pix []byte, width, height, channels int) ([]float32, error) {
	if err := checkPixels(pix, width, height, channels); err != nil {
		return nil, err
	}
	out, err := s.poolBuf(1)
	if err != nil {
		return nil, err
	}
	err = s.call("ipf_session_encode_image_rgb", func(p *C.ipf_session) C.ipf_status {
		return C.ipf_session_encode_image_rgb(p, (*C.uint8_t)(bytesp(pix)), C.int32_t(width), C.int32_t(height),
			C.int32_t(channels), f32p(out), C.size_t(len(out)))
	})
	return out, err
}

// EncodeImageTensor runs Inception on n preprocessed images x (n, 3, height,
// width), giving one 2048-float row per image.
func (s *Session) EncodeImageTensor(x []float32, n, height, width int) ([][]float32, error) {
	if n <= 0 || len(x) != n*3*height*width {
		return nil, newError(StatusShape, "image tensor: %d floats for (%d, 3, %d, %d)", len(x), n, height, width)
	}
	out, err := s.poolBuf(n)
	if err != nil {
		return nil, err
	}
	err = s.call("ipf_session_encode_image_tensor", func(p *C.ipf_session) C.ipf_status {
		return C.ipf_session_encode_image_tensor(p, f32p(x), C.int32_t(n), C.int32_t(height), C.int32_t(width),
			f32p(out), C.size_t(len(out)))
	})
	if err != nil {
		return nil, err
	}
	return split(out, n, len(out)/n), nil
}

// arena collects C allocations freed together (cgo forbids passing Go
// memory that holds Go pointers, so pointer arrays live in C memory).
type arena struct{ ptrs []unsafe.Pointer }

func (a *arena) alloc(n int) unsafe.Pointer {
	if n < 1 {
		n = 1
	}
	p := C.calloc(1, C.size_t(n))
	if p == nil {
		panic("influencer_profiler: out of memory")
	}
	a.ptrs = append(a.ptrs, p)
	return p
}

func (a *arena) free() {
	for _, p := range a.ptrs {
		C.free(p)
	}
	a.ptrs = nil
}
