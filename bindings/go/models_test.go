package influencerprofiler

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"image/png"
	"math"
	"os"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
)

// readNpy reads a little-endian float32/float64/int64 .npy as float64s and its shape.
func readNpy(t *testing.T, rel string) ([]float64, []int) {
	t.Helper()
	p := goldenPath(rel)
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatalf("golden %s missing (run make gen): %v", p, err)
	}
	if len(b) < 10 || string(b[1:6]) != "NUMPY" {
		t.Fatalf("%s: not .npy", p)
	}
	var hlen, off int
	if b[6] == 1 {
		hlen, off = int(binary.LittleEndian.Uint16(b[8:10])), 10
	} else {
		hlen, off = int(binary.LittleEndian.Uint32(b[8:12])), 12
	}
	hdr := string(b[off : off+hlen])
	data := b[off+hlen:]
	descr := regexp.MustCompile(`'descr': '([<|][a-z]\d)'`).FindStringSubmatch(hdr)
	shapeM := regexp.MustCompile(`'shape': \(([^)]*)\)`).FindStringSubmatch(hdr)
	if descr == nil || shapeM == nil || strings.Contains(hdr, "'fortran_order': True") {
		t.Fatalf("%s: unsupported header %s", p, hdr)
	}
	var shape []int
	for _, f := range strings.Split(shapeM[1], ",") {
		if f = strings.TrimSpace(f); f != "" {
			n, _ := strconv.Atoi(f)
			shape = append(shape, n)
		}
	}
	var out []float64
	r := bytes.NewReader(data)
	switch descr[1] {
	case "<f4":
		v := make([]float32, len(data)/4)
		binary.Read(r, binary.LittleEndian, v)
		for _, x := range v {
			out = append(out, float64(x))
		}
	case "<f8":
		out = make([]float64, len(data)/8)
		binary.Read(r, binary.LittleEndian, out)
	case "<i8":
		v := make([]int64, len(data)/8)
		binary.Read(r, binary.LittleEndian, v)
		for _, x := range v {
			out = append(out, float64(x))
		}
	default:
		t.Fatalf("%s: dtype %s", p, descr[1])
	}
	return out, shape
}

func f32(v []float64) []float32 {
	o := make([]float32, len(v))
	for i, x := range v {
		o[i] = float32(x)
	}
	return o
}

func flat2(rows [][]float32) []float32 {
	var o []float32
	for _, r := range rows {
		o = append(o, r...)
	}
	return o
}

// closeTo checks |got-want| <= atol + rtol*|want| elementwise.
func closeTo(t *testing.T, what string, got []float32, want []float64, atol, rtol float64) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d values, want %d", what, len(got), len(want))
	}
	bad, worst := 0, 0.0
	for i := range got {
		d := math.Abs(float64(got[i]) - want[i])
		worst = math.Max(worst, d)
		if !(d <= atol+rtol*math.Abs(want[i])) {
			bad++
		}
	}
	if bad > 0 {
		t.Errorf("%s: %d values off, max abs err %.3g", what, bad, worst)
	}
}

func maxAbs(v []float64) float64 {
	m := 0.0
	for _, x := range v {
		m = math.Max(m, math.Abs(x))
	}
	return m
}

func mustLoad(t *testing.T, m *Model, err error) *Model {
	t.Helper()
	skipUnsupported(t, err)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func TestInceptionGolden(t *testing.T) {
	if err := need("ipf_model_load_inception"); err != nil {
		t.Skip(err)
	}
	x, shape := readNpy(t, "inception/x_75x75_b1.npy")
	for _, ti := range []int{0, 1} {
		m := mustLoadInception(t, ti == 1)
		s, _ := m.NewSession()
		s.SetThreads(1) // the test machine is shared; spinning OpenMP threads crawl there
		got, err := s.EncodeImageTensor(f32(x), shape[0], shape[2], shape[3])
		if err != nil {
			t.Fatal(err)
		}
		want, _ := readNpy(t, fmt.Sprintf("inception/pool_75x75_b1_t%d.npy", ti))
		// float64 golden vs float32 through 94 layers: as tests/test_inception.c
		closeTo(t, fmt.Sprintf("pool t%d", ti), flat2(got), want, 2e-5*maxAbs(want), 1e-4)
		if _, err := s.EncodeImageTensor(make([]float32, 3*50*50), 1, 50, 50); err == nil {
			t.Errorf("50x50 image accepted")
		}
		s.Close()
		m.Close()
	}
}

func mustLoadInception(t *testing.T, ti bool) *Model {
	m, err := LoadInception(goldenPath("inception/model.safetensors"), ti)
	return mustLoad(t, m, err)
}

func TestImageGolden(t *testing.T) {
	m, err := LoadVocab(goldenPath("bert/bert/vocab.txt"), true)
	m = mustLoad(t, m, err)
	defer m.Close()
	s, _ := m.NewSession()
	defer s.Close()
	if err := need("ipf_session_preprocess_image"); err != nil {
		t.Skip(err)
	}
	if s.ImageSide() != 299 {
		t.Errorf("ImageSide %d", s.ImageSide())
	}
	data, err := os.ReadFile(goldenPath("image/png_rgb_640x480.png"))
	if err != nil {
		t.Fatal(err)
	}
	got, err := s.PreprocessImage(data)
	if err != nil {
		t.Fatal(err)
	}
	want, _ := readNpy(t, "image/png_rgb_640x480.npy")
	closeTo(t, "preprocess png", got, want, 0, 0) // bit-exact, as tests/test_image.c
	if _, err := s.PreprocessImage([]byte("not an image")); !errors.Is(err, ErrImage) {
		t.Errorf("garbage image: %v", err)
	}
	if _, err := s.PreprocessRGB(make([]byte, 10), 4, 4, 3); !errors.Is(err, ErrShape) {
		t.Errorf("short pixels: %v", err)
	}
	pix := make([]byte, 64*48*3)
	for i := range pix {
		pix[i] = byte(i * 7)
	}
	if out, err := s.PreprocessRGB(pix, 64, 48, 3); err != nil || len(out) != 3*299*299 {
		t.Errorf("rgb: %d %v", len(out), err)
	}
}

func TestBertGolden(t *testing.T) {
	m, err := LoadBERT(goldenPath("bert/bert_small"))
	m = mustLoad(t, m, err)
	defer m.Close()
	s, _ := m.NewSession()
	defer s.Close()
	// float64 goldens vs float32 BERT: as tests/test_bert.c
	const atol, rtol = 5e-5, 1e-4
	for _, n := range []int{5, 16} {
		idsF, _ := readNpy(t, fmt.Sprintf("bert/small_ids_%d.npy", n))
		want, _ := readNpy(t, fmt.Sprintf("bert/small_cls_%d.npy", n))
		ids := make([]int32, len(idsF))
		for i, v := range idsF {
			ids[i] = int32(v)
		}
		got, err := s.EncodeIDs(ids)
		if err != nil {
			t.Fatal(err)
		}
		closeTo(t, fmt.Sprintf("cls %d", n), got, want, atol, rtol)
	}
	idsF, _ := readNpy(t, "bert/small_batch_ids.npy")
	lens, _ := readNpy(t, "bert/small_batch_lens.npy")
	want, _ := readNpy(t, "bert/small_batch_cls.npy")
	var seqs [][]int32
	o := 0
	for _, l := range lens {
		var q []int32
		for _, v := range idsF[o : o+int(l)] {
			q = append(q, int32(v))
		}
		seqs = append(seqs, q)
		o += int(l)
	}
	got, err := s.EncodeIDsBatch(seqs)
	if err != nil {
		t.Fatal(err)
	}
	closeTo(t, "batch", flat2(got), want, atol, rtol)
	texts := []string{"Hello world!", "a longer caption about #fashion", ""}
	batch, err := s.EncodeTexts(texts)
	if err != nil {
		t.Fatal(err)
	}
	for i, text := range texts {
		one, err := s.EncodeText(text)
		if err != nil {
			t.Fatal(err)
		}
		ids, _ := s.Tokenize(text)
		viaIDs, _ := s.EncodeIDs(ids)
		closeTo(t, "text vs ids", one, f64(viaIDs), 1e-6, 1e-6)
		closeTo(t, "batch vs one", batch[i], f64(one), 1e-5, 1e-5)
	}
}

func f64(v []float32) []float64 {
	o := make([]float64, len(v))
	for i, x := range v {
		o[i] = float64(x)
	}
	return o
}

type infGolden struct{ pool, xt, v, postProbs, alpha, h, infProbs []float64 }

func loadInf(t *testing.T, cfg string, k int) (infGolden, int) {
	get := func(tag string) []float64 {
		v, _ := readNpy(t, fmt.Sprintf("profiler/%s/inf%d_%s.npy", cfg, k, tag))
		return v
	}
	g := infGolden{get("pool"), get("xt"), get("v"), get("post_probs"), get("alpha"), get("h"), get("inf_probs")}
	return g, len(g.alpha)
}

func TestProfilerGolden(t *testing.T) {
	for _, cfg := range []string{"paper", "small"} {
		m, err := LoadModel(goldenPath("profiler/" + cfg))
		m = mustLoad(t, m, err)
		s, _ := m.NewSession()
		infNames, err := m.ClassNames(HeadInfluencer)
		if err != nil {
			t.Fatal(err)
		}
		postNames, _ := m.ClassNames(HeadPost)
		E, _ := m.Dim(DimImagePool)
		X, _ := m.Dim(DimText)
		// float32 heads vs float32 PyTorch
		const atol, rtol = 1e-5, 1e-4
		for k := 0; k < 3; k++ {
			g, n := loadInf(t, cfg, k)
			posts := make([]Post, n)
			for i := range posts {
				posts[i] = Post{ID: fmt.Sprint(i), ImageFeature: f32(g.pool[i*E : (i+1)*E]),
					TextFeature: f32(g.xt[i*X : (i+1)*X])}
			}
			r, err := s.Profile(posts)
			if err != nil {
				t.Fatal(err)
			}
			var inf, pp []float32
			for _, c := range infNames {
				inf = append(inf, r.Probs[c])
			}
			for _, p := range r.Posts {
				for _, c := range postNames {
					pp = append(pp, p.Probs[c])
				}
			}
			closeTo(t, cfg+" profile inf", inf, g.infProbs, atol, rtol)
			closeTo(t, cfg+" profile posts", pp, g.postProbs, atol, rtol)
			closeTo(t, cfg+" profile alpha", r.Attention, g.alpha, atol, rtol)
			vecs, err := s.EncodePosts(posts)
			if err != nil {
				t.Fatal(err)
			}
			closeTo(t, cfg+" encode posts", flat2(vecs), g.v, atol, rtol)
			h, alpha, err := s.Pool(vecs)
			if err != nil {
				t.Fatal(err)
			}
			closeTo(t, cfg+" pool h", h, g.h, atol, rtol)
			closeTo(t, cfg+" pool alpha", alpha, g.alpha, atol, rtol)
			ip, _ := s.ClassifyInfluencer(h)
			closeTo(t, cfg+" classify influencer", ip, g.infProbs, atol, rtol)
			pp0, _ := s.ClassifyPost(vecs[0])
			closeTo(t, cfg+" classify post", pp0, g.postProbs[:len(postNames)], atol, rtol)
			enc, err := s.EncodePost(posts[0])
			if err != nil {
				t.Fatal(err)
			}
			closeTo(t, cfg+" encode post", enc.PostVec, g.v[:len(enc.PostVec)], atol, rtol)
		}
		if _, err := s.Profile([]Post{{TextFeature: make([]float32, 3)}}); !errors.Is(err, ErrShape) {
			t.Errorf("short feature: %v", err)
		}
		if _, err := s.Profile([]Post{{}}); err == nil {
			t.Errorf("empty post accepted")
		}
		nan := make([]float32, X)
		nan[3] = float32(math.NaN())
		if _, err := s.Profile([]Post{{TextFeature: nan}}); !errors.Is(err, ErrNumeric) {
			t.Errorf("NaN feature: %v", err)
		}
		s.Close()
		m.Close()
	}
}

// TestGoroutinesShareModel: one model, a session per goroutine, results
// identical to a serial run (run under -race by tests/check_51_go.sh).
func TestGoroutinesShareModel(t *testing.T) {
	m, err := LoadModel(goldenPath("profiler/paper"))
	m = mustLoad(t, m, err)
	defer m.Close()
	g, n := loadInf(t, "paper", 2)
	posts := make([]Post, n)
	for i := range posts {
		posts[i] = Post{ImageFeature: f32(g.pool[i*2048 : (i+1)*2048]), TextFeature: f32(g.xt[i*768 : (i+1)*768])}
	}
	s0, _ := m.NewSession()
	ref, err := s0.Profile(posts)
	s0.Close()
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	errs := make(chan error, 6)
	for w := 0; w < 6; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s, err := m.NewSession()
			if err != nil {
				errs <- err
				return
			}
			defer s.Close()
			s.SetThreads(1)
			for i := 0; i < 10; i++ {
				r, err := s.Profile(posts)
				if err != nil {
					errs <- err
					return
				}
				for c, p := range ref.Probs {
					if math.Abs(float64(r.Probs[c]-p)) > 1e-6 {
						errs <- fmt.Errorf("%s: %g vs %g", c, r.Probs[c], p)
						return
					}
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

// TestImagePathsAgree: file == bytes == RGB pixels (decoded by Go's
// image/png) == PreprocessImage + EncodeImageTensor, on a PNG golden.
func TestImagePathsAgree(t *testing.T) {
	if err := need("ipf_session_encode_image_file"); err != nil {
		t.Skip(err)
	}
	m := mustLoadInception(t, true)
	defer m.Close()
	s, _ := m.NewSession()
	defer s.Close()
	s.SetThreads(1)
	path := goldenPath("image/png_rgb_100x80.png")
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("golden %s missing (run make gen): %v", path, err)
	}
	a, err := s.EncodeImageFile(path)
	if err != nil {
		t.Fatal(err)
	}
	b, err := s.EncodeImageBytes(data)
	if err != nil {
		t.Fatal(err)
	}
	closeTo(t, "bytes vs file", b, f64(a), 0, 0)
	img, err := png.Decode(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	w, h := img.Bounds().Dx(), img.Bounds().Dy()
	pix := make([]byte, 0, w*h*3)
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			r, g, bl, _ := img.At(x, y).RGBA()
			pix = append(pix, byte(r>>8), byte(g>>8), byte(bl>>8))
		}
	}
	c, err := s.EncodeImageRGB(pix, w, h, 3)
	if err != nil {
		t.Fatal(err)
	}
	closeTo(t, "rgb vs file", c, f64(a), 0, 0)
	x, err := s.PreprocessImage(data)
	if err != nil {
		t.Fatal(err)
	}
	d, err := s.EncodeImageTensor(x, 1, 299, 299)
	if err != nil {
		t.Fatal(err)
	}
	closeTo(t, "tensor vs file", d[0], f64(a), 1e-6, 1e-6)
	if _, err := s.EncodeImageBytes([]byte("garbage")); !errors.Is(err, ErrImage) {
		t.Errorf("garbage: %v", err)
	}
	s.SetOption(OptMaxImageBytes, 16)
	if _, err := s.EncodeImageBytes(data); !errors.Is(err, ErrLimit) {
		t.Errorf("over the byte limit: %v", err)
	}
	if _, err := s.EncodeImageFile(path + ".missing"); err == nil || !strings.Contains(err.Error(), ".missing") {
		t.Errorf("missing file: %v", err)
	}
}
