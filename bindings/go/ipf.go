// Package influencerprofiler is the Go binding (cgo) of libinfluencer_profiler:
// multimodal post-attentive influencer profiling (BERT captions +
// Inception-v3 images, attention over posts, influencer and post heads).
//
//	m, err := influencerprofiler.LoadModel("bundle")
//	defer m.Close()
//	s, err := m.NewSession()
//	defer s.Close()
//	p, err := s.Profile([]influencerprofiler.Post{{Caption: "new lipstick", ImagePath: "a.jpg"}})
//
// A Model is read-only and may be shared by any number of goroutines; a
// Session serialises its own calls with a mutex, so use one Session per
// goroutine for parallelism.  Every failure is an *Error carrying the
// library's Status and message; errors.Is(err, ErrNotFound) and the like
// match on Status.
//
// The package links against ../../build (with an rpath there) and also
// searches CGO_CFLAGS/CGO_LDFLAGS, so an installed library works with
// CGO_CFLAGS="$(pkg-config --cflags influencer_profiler)" and
// CGO_LDFLAGS="$(pkg-config --libs influencer_profiler)".  Functions newer
// than the core are bound weakly: a library lacking one answers
// StatusUnsupported instead of failing to link.
package influencerprofiler

/*
#cgo CFLAGS: -I${SRCDIR}/../../include
#cgo LDFLAGS: -L${SRCDIR}/../../build -Wl,-rpath,${SRCDIR}/../../build -linfluencer_profiler -ldl
#include "ipf_go.h"
*/
import "C"

import (
	"fmt"
	"runtime"
	"sync"
	"unsafe"
)

// Status is ipf_status; values never change.
type Status int

const (
	StatusOK              Status = 0
	StatusInvalidArgument Status = 1
	StatusOutOfMemory     Status = 2
	StatusIO              Status = 3
	StatusFormat          Status = 4
	StatusShape           Status = 5
	StatusUnsupported     Status = 6
	StatusImage           Status = 7
	StatusText            Status = 8
	StatusChecksum        Status = 9
	StatusNumeric         Status = 10
	StatusBufferTooSmall  Status = 11
	StatusLimit           Status = 12
	StatusBackend         Status = 13
	StatusState           Status = 14
	StatusNotFound        Status = 15
	StatusInternal        Status = 16
)

// String is the library's English text for the status.
func (s Status) String() string { return C.GoString(C.ipf_status_string(C.ipf_status(s))) }

// Error is a failed library call: its status and the library's message
// (which names the file, tensor, field or index at fault).
type Error struct {
	Status  Status
	Message string
}

func (e *Error) Error() string {
	if e.Message == "" {
		return "influencer_profiler: " + e.Status.String()
	}
	return "influencer_profiler: " + e.Status.String() + ": " + e.Message
}

// Is makes errors.Is(err, ErrX) match any *Error with the same Status.
func (e *Error) Is(target error) bool {
	t, ok := target.(*Error)
	return ok && t.Status == e.Status && (t.Message == "" || t.Message == e.Message)
}

// Sentinels for errors.Is.
var (
	ErrInvalidArgument = &Error{Status: StatusInvalidArgument}
	ErrOutOfMemory     = &Error{Status: StatusOutOfMemory}
	ErrIO              = &Error{Status: StatusIO}
	ErrFormat          = &Error{Status: StatusFormat}
	ErrShape           = &Error{Status: StatusShape}
	ErrUnsupported     = &Error{Status: StatusUnsupported}
	ErrImage           = &Error{Status: StatusImage}
	ErrText            = &Error{Status: StatusText}
	ErrChecksum        = &Error{Status: StatusChecksum}
	ErrNumeric         = &Error{Status: StatusNumeric}
	ErrBufferTooSmall  = &Error{Status: StatusBufferTooSmall}
	ErrLimit           = &Error{Status: StatusLimit}
	ErrBackend         = &Error{Status: StatusBackend}
	ErrState           = &Error{Status: StatusState}
	ErrNotFound        = &Error{Status: StatusNotFound}
	ErrInternal        = &Error{Status: StatusInternal}
)

func newError(st Status, format string, args ...interface{}) *Error {
	return &Error{Status: st, Message: fmt.Sprintf(format, args...)}
}

// Version is the loaded library's "MAJOR.MINOR.PATCH".
func Version() string { return C.GoString(C.ipf_version_string()) }

// VersionNumber is MAJOR*10000 + MINOR*100 + PATCH of the loaded library.
func VersionNumber() uint32 { return uint32(C.ipf_version_number()) }

// ABIVersion is the soname's major number.
func ABIVersion() uint32 { return uint32(C.ipf_abi_version()) }

// HeaderABIVersion is the ABI version of the header this package was built with.
const HeaderABIVersion = C.IPF_ABI_VERSION

var symCache sync.Map

// need returns an Unsupported error when the loaded library lacks fn.
func need(fn string) error {
	if v, ok := symCache.Load(fn); ok {
		if v.(bool) {
			return nil
		}
	} else {
		cs := C.CString(fn)
		has := C.ipf_go_has(cs) != 0
		C.free(unsafe.Pointer(cs))
		symCache.Store(fn, has)
		if has {
			return nil
		}
	}
	return newError(StatusUnsupported, "%s is not exported by the loaded library (older than the binding?)", fn)
}

// callTLS runs a handle-less call and reads ipf_last_error on the same OS
// thread (the message is thread-local and goroutines migrate).
func callTLS(fn string, f func() C.ipf_status) error {
	if err := need(fn); err != nil {
		return err
	}
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	if st := f(); st != C.IPF_OK {
		return &Error{Status: Status(st), Message: C.GoString(C.ipf_last_error())}
	}
	return nil
}

// Backend selects compute kernels (option OptBackend).
type Backend int64

const (
	BackendAuto     Backend = 0
	BackendOneDNN   Backend = 1
	BackendOpenBLAS Backend = 2
	BackendRef      Backend = 3
)

// Option is a per-session setting with bounds (OptionBounds).
type Option int

const (
	OptThreads        Option = 0
	OptBackend        Option = 1
	OptMaxImagePixels Option = 2
	OptMaxImageBytes  Option = 3
	OptMaxTokens      Option = 4
)

// OptionBounds gives the inclusive bounds and default of an option.
func OptionBounds(o Option) (min, max, def int64, err error) {
	var lo, hi, de C.int64_t
	err = callTLS("ipf_option_bounds", func() C.ipf_status {
		return C.ipf_option_bounds(C.ipf_option(o), &lo, &hi, &de)
	})
	return int64(lo), int64(hi), int64(de), err
}

// Component is a part a model may have (Model.Has).
type Component int

const (
	ComponentImageEncoder Component = 0
	ComponentTextEncoder  Component = 1
	ComponentTokenizer    Component = 2
	ComponentProfiler     Component = 3
)

// Dim is a model dimension (Model.Dim).
type Dim int

const (
	DimImagePool         Dim = 0
	DimImage             Dim = 1
	DimText              Dim = 2
	DimPost              Dim = 3
	DimInfluencerClasses Dim = 4
	DimPostClasses       Dim = 5
	DimMaxTokens         Dim = 6
	DimVocab             Dim = 7
	DimImageSize         Dim = 8 // side of a preprocessed image (crop)
	dimCount                 = 9
)

// Head is one of the two classifiers.
type Head int

const (
	HeadInfluencer Head = 0
	HeadPost       Head = 1
)

// ImageSize is the preprocessed image side (DESIGN.md §4): PreprocessImage
// returns 3*ImageSize*ImageSize floats.
const ImageSize = 299
