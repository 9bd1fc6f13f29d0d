package influencerprofiler

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

func repoPath(rel string) string { return filepath.Join("..", "..", rel) }

func goldenPath(rel string) string {
	if d := os.Getenv("IPF_GOLDEN_DIR"); d != "" {
		return filepath.Join(d, rel)
	}
	b := os.Getenv("B")
	if b == "" {
		b = "build"
	}
	if !filepath.IsAbs(b) {
		b = repoPath(b)
	}
	return filepath.Join(b, "goldens", rel)
}

func sharedPath(rel string) string {
	for _, base := range []string{repoPath("../shared"), "/work/shared"} {
		p := filepath.Join(base, rel)
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	return ""
}

// skipUnsupported skips when err says the library lacks the function.
func skipUnsupported(t *testing.T, err error) {
	t.Helper()
	var e *Error
	if errors.As(err, &e) && e.Status == StatusUnsupported && strings.Contains(e.Message, "not exported") {
		t.Skip(e.Message)
	}
}

func TestVersion(t *testing.T) {
	var a, b, c uint32
	if _, err := fmt.Sscanf(Version(), "%d.%d.%d", &a, &b, &c); err != nil {
		t.Fatalf("version %q: %v", Version(), err)
	}
	if VersionNumber() != a*10000+b*100+c {
		t.Errorf("VersionNumber %d vs %q", VersionNumber(), Version())
	}
	if ABIVersion() != HeaderABIVersion {
		t.Errorf("ABI %d, header %d", ABIVersion(), HeaderABIVersion)
	}
}

func TestStatusAndErrors(t *testing.T) {
	if StatusOK.String() != "ok" || Status(9999).String() != "unknown status" {
		t.Errorf("status strings: %q %q", StatusOK, Status(9999))
	}
	for s := StatusInvalidArgument; s <= StatusInternal; s++ {
		if s.String() == "unknown status" {
			t.Errorf("status %d has no string", s)
		}
	}
	var err error = &Error{Status: StatusNotFound, Message: "tensor x"}
	if !errors.Is(err, ErrNotFound) || errors.Is(err, ErrIO) {
		t.Errorf("errors.Is mismatch")
	}
	if got := err.Error(); !strings.Contains(got, "not found") || !strings.Contains(got, "tensor x") {
		t.Errorf("Error() = %q", got)
	}
}

func TestOptionBounds(t *testing.T) {
	for o := OptThreads; o <= OptMaxTokens; o++ {
		lo, hi, def, err := OptionBounds(o)
		if err != nil || lo > def || def > hi {
			t.Errorf("option %d: %d %d %d %v", o, lo, hi, def, err)
		}
	}
	_, _, _, err := OptionBounds(Option(77))
	var e *Error
	if !errors.As(err, &e) || e.Status != StatusInvalidArgument || !strings.Contains(e.Message, "unknown option") {
		t.Errorf("bad option: %v", err)
	}
}

func TestBadPaths(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "missing")
	loaders := map[string]func() (*Model, error){
		"LoadModel":     func() (*Model, error) { return LoadModel(missing) },
		"LoadInception": func() (*Model, error) { return LoadInception(missing+".safetensors", true) },
		"LoadBERT":      func() (*Model, error) { return LoadBERT(missing) },
		"LoadVocab":     func() (*Model, error) { return LoadVocab(missing+".txt", true) },
		"LoadSPM":       func() (*Model, error) { return LoadSPM(missing + ".model") },
	}
	for name, load := range loaders {
		t.Run(name, func(t *testing.T) {
			m, err := load()
			skipUnsupported(t, err)
			if m != nil || err == nil {
				t.Fatalf("loaded a missing file")
			}
			var e *Error
			if !errors.As(err, &e) || !strings.Contains(e.Message, "missing") {
				t.Errorf("error does not name the file: %v", err)
			}
		})
	}
}

func loadVocab(t *testing.T) *Model {
	t.Helper()
	vocab := sharedPath("data/bert-base-uncased-vocab.txt")
	if vocab == "" {
		t.Skip("shared data/bert-base-uncased-vocab.txt absent")
	}
	m, err := LoadVocab(vocab, true)
	skipUnsupported(t, err)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func TestSessionOptionsAndLifetime(t *testing.T) {
	m := loadVocab(t)
	if !m.Has(ComponentTokenizer) || m.Has(ComponentImageEncoder) {
		t.Errorf("components wrong")
	}
	if _, err := m.Dim(DimImagePool); !errors.Is(err, ErrNotFound) {
		t.Errorf("DimImagePool on a vocab model: %v", err)
	}
	s, err := m.NewSession()
	if err != nil {
		t.Fatal(err)
	}
	if err := s.SetThreads(1); err != nil {
		t.Error(err)
	}
	if err := s.SetThreads(0); !errors.Is(err, ErrInvalidArgument) {
		t.Errorf("threads=0: %v", err)
	}
	if v, _ := s.GetOption(OptThreads); v != 1 {
		t.Errorf("threads changed to %d by a rejected set", v)
	}
	if err := m.Close(); !errors.Is(err, ErrState) {
		t.Errorf("model closed under an open session: %v", err)
	}
	s.Close()
	s.Close()
	if _, err := s.Tokenize("x"); !errors.Is(err, ErrState) {
		t.Errorf("closed session: %v", err)
	}
	if err := m.Close(); err != nil {
		t.Error(err)
	}
	if _, err := m.NewSession(); !errors.Is(err, ErrState) {
		t.Errorf("closed model: %v", err)
	}
}

func TestTokenizeGoroutines(t *testing.T) {
	m := loadVocab(t)
	defer m.Close()
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			s, err := m.NewSession()
			if err != nil {
				errs <- err
				return
			}
			defer s.Close()
			for i := 0; i < 50; i++ {
				ids, err := s.Tokenize(fmt.Sprintf("Hello world %d", g))
				if err != nil {
					errs <- err
					return
				}
				if len(ids) < 4 || ids[0] != 101 || ids[1] != 7592 || ids[2] != 2088 || ids[len(ids)-1] != 102 {
					errs <- fmt.Errorf("goroutine %d: ids %v", g, ids)
					return
				}
			}
		}(g)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

func TestTokenizeLimits(t *testing.T) {
	m := loadVocab(t)
	defer m.Close()
	s, _ := m.NewSession()
	defer s.Close()
	ids, err := s.Tokenize("")
	if err != nil || len(ids) != 2 {
		t.Errorf("empty caption: %v %v", ids, err)
	}
	if err := s.SetMaxTokens(300); err != nil {
		t.Fatal(err)
	}
	ids, err = s.Tokenize(strings.Repeat("word ", 400))
	if err != nil || len(ids) != 300 {
		t.Errorf("long caption: %d ids, %v", len(ids), err)
	}
}

func TestLogCallback(t *testing.T) {
	var mu sync.Mutex
	var lines []string
	SetLogCallback(func(l LogLevel, msg string) {
		mu.Lock()
		lines = append(lines, msg)
		mu.Unlock()
	}, LogDebug)
	defer SetLogCallback(nil, LogError)
	LoadModel(filepath.Join(t.TempDir(), "missing"))
	m, err := LoadModel(goldenPath("profiler/paper"))
	skipUnsupported(t, err)
	if err != nil {
		t.Fatal(err)
	}
	m.Close()
	mu.Lock()
	defer mu.Unlock()
	found := false
	for _, l := range lines {
		found = found || strings.Contains(l, "loaded model bundle") // lib/bundle.c, INFO
	}
	if !found {
		t.Errorf("no 'loaded model bundle' line among %q", lines)
	}
}
