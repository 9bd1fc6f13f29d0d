package influencerprofiler

/*
#include "ipf_go.h"
*/
import "C"

import (
	"runtime"
	"sync"
	"unsafe"
)

// Model holds weights and configuration; read-only, shareable by goroutines.
type Model struct {
	mu       sync.RWMutex // write-locked only by Close
	p        *C.ipf_model
	sessions int
	dims     [dimCount]int64 // cached dimensions, 0 = not yet asked
	dimMu    sync.Mutex
	Source   string // the path it was loaded from
}

func wrapModel(p *C.ipf_model, src string) *Model {
	m := &Model{p: p, Source: src}
	runtime.SetFinalizer(m, func(m *Model) { m.Close() })
	return m
}

func loadWith(fn, path string, load func(cpath *C.char, out **C.ipf_model) C.ipf_status) (*Model, error) {
	cpath := C.CString(path)
	defer C.free(unsafe.Pointer(cpath))
	var p *C.ipf_model
	if err := callTLS(fn, func() C.ipf_status { return load(cpath, &p) }); err != nil {
		return nil, err
	}
	return wrapModel(p, path), nil
}

// LoadModel loads a bundle directory: profiler.safetensors, optional bert/
// and inception/ (docs/FORMATS.md).
func LoadModel(bundleDir string) (*Model, error) {
	return loadWith("ipf_model_load", bundleDir, func(c *C.char, out **C.ipf_model) C.ipf_status {
		return C.ipf_model_load(c, out)
	})
}

// LoadInception loads only an Inception-v3 trunk (torchvision/timm names);
// transformInput is true for Google-trained weights (torchvision's default).
func LoadInception(safetensorsPath string, transformInput bool) (*Model, error) {
	ti := C.int32_t(0)
	if transformInput {
		ti = 1
	}
	return loadWith("ipf_model_load_inception", safetensorsPath, func(c *C.char, out **C.ipf_model) C.ipf_status {
		return C.ipf_model_load_inception(c, ti, out)
	})
}

// LoadBERT loads only BERT from a Hugging Face directory (config.json,
// model.safetensors, vocab.txt).
func LoadBERT(dir string) (*Model, error) {
	return loadWith("ipf_model_load_bert", dir, func(c *C.char, out **C.ipf_model) C.ipf_status {
		return C.ipf_model_load_bert(c, out)
	})
}

// LoadVocab loads only a WordPiece tokenizer (BERT vocab.txt).
func LoadVocab(path string, lowerCase bool) (*Model, error) {
	lc := C.int32_t(0)
	if lowerCase {
		lc = 1
	}
	return loadWith("ipf_model_load_vocab", path, func(c *C.char, out **C.ipf_model) C.ipf_status {
		return C.ipf_model_load_vocab(c, lc, out)
	})
}

// LoadSPM loads only a SentencePiece tokenizer (.model file).
func LoadSPM(path string) (*Model, error) {
	return loadWith("ipf_model_load_spm", path, func(c *C.char, out **C.ipf_model) C.ipf_status {
		return C.ipf_model_load_spm(c, out)
	})
}

func errClosed(what string) error { return newError(StatusState, "%s is closed", what) }

// read runs f with the model's handle, failing if closed.
func (m *Model) read(f func(p *C.ipf_model) error) error {
	m.mu.RLock()
	defer m.mu.RUnlock()
	if m.p == nil {
		return errClosed("model")
	}
	return f(m.p)
}

// Close frees the model.  It fails with StatusState while sessions created
// from it are open.  Closing twice is a no-op.
func (m *Model) Close() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.p == nil {
		return nil
	}
	if m.sessions > 0 {
		return newError(StatusState, "model has %d open sessions; close them first", m.sessions)
	}
	C.ipf_model_free(m.p)
	m.p = nil
	runtime.SetFinalizer(m, nil)
	return nil
}

// Has reports whether the model has a component (false once closed).
func (m *Model) Has(c Component) bool {
	has := false
	_ = m.read(func(p *C.ipf_model) error {
		if need("ipf_model_has") == nil {
			has = C.ipf_model_has(p, C.ipf_component(c)) != 0
		}
		return nil
	})
	return has
}

// Dim returns a dimension; StatusNotFound when the model lacks the
// component defining it.
func (m *Model) Dim(d Dim) (int, error) {
	if d >= 0 && d < dimCount {
		m.dimMu.Lock()
		v := m.dims[d]
		m.dimMu.Unlock()
		if v > 0 {
			return int(v), nil
		}
	}
	var v C.int64_t
	err := m.read(func(p *C.ipf_model) error {
		return callTLS("ipf_model_dim", func() C.ipf_status { return C.ipf_model_dim(p, C.ipf_dim(d), &v) })
	})
	if err != nil {
		return 0, err
	}
	if d >= 0 && d < dimCount {
		m.dimMu.Lock()
		m.dims[d] = int64(v)
		m.dimMu.Unlock()
	}
	return int(v), nil
}

var defaultDims = map[Dim]int{DimImagePool: 2048, DimImage: 1024, DimText: 768, DimPost: 256}

// dimOr is Dim with the paper's sizes as fallback (for sizing feature buffers).
func (m *Model) dimOr(d Dim) int {
	if v, err := m.Dim(d); err == nil {
		return v
	}
	return defaultDims[d]
}

// ClassName is the name of class index of a head.
func (m *Model) ClassName(h Head, index int) (string, error) {
	var name *C.char
	err := m.read(func(p *C.ipf_model) error {
		return callTLS("ipf_model_class_name", func() C.ipf_status {
			return C.ipf_model_class_name(p, C.ipf_head(h), C.int32_t(index), &name)
		})
	})
	if err != nil {
		return "", err
	}
	return C.GoString(name), nil
}

// ClassNames lists a head's class names in index order.
func (m *Model) ClassNames(h Head) ([]string, error) {
	d := DimInfluencerClasses
	if h == HeadPost {
		d = DimPostClasses
	}
	n, err := m.Dim(d)
	if err != nil {
		return nil, err
	}
	names := make([]string, n)
	for i := range names {
		if names[i], err = m.ClassName(h, i); err != nil {
			return nil, err
		}
	}
	return names, nil
}
