package influencerprofiler

import (
	"bufio"
	"encoding/json"
	"errors"
	"math"
	"math/rand"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"
)

// The small golden bundle (tests/gen/profiler.py: E=40, X=16, classes
// cats/dogs/birds, posts a-d) and a manifest of cached features, as
// tests/check_45_cli_train.sh.

var trainInf = []string{"cats", "dogs", "birds"}
var trainPost = []string{"a", "b", "c", "d"}

type manifestLine struct {
	Influencer    string    `json:"influencer"`
	Post          string    `json:"post"`
	Caption       *string   `json:"caption"`
	TextFeature   []float64 `json:"text_feature"`
	ImageFeature  []float64 `json:"image_feature"`
	InfluencerLbl string    `json:"influencer_label"`
	PostLabel     *string   `json:"post_label"`
}

func writeManifest(t *testing.T, path string) []manifestLine {
	t.Helper()
	rng := rand.New(rand.NewSource(0))
	round := func(x float64) float64 { return math.Round(x*1e5) / 1e5 }
	mt := make([][]float64, 4)
	mi := make([][]float64, 4)
	for c := range mt {
		mt[c], mi[c] = make([]float64, 16), make([]float64, 40)
		for k := range mt[c] {
			mt[c][k] = rng.NormFloat64()
		}
		for k := range mi[c] {
			mi[c][k] = math.Abs(rng.NormFloat64())
		}
	}
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	w := bufio.NewWriter(f)
	var lines []manifestLine
	for i := 0; i < 24; i++ {
		c := i % 3
		for j := 0; j < 6; j++ {
			pc := 3
			if rng.Float64() < 0.7 {
				pc = c
			}
			l := manifestLine{Influencer: "u" + strconv.Itoa(i), Post: "u" + strconv.Itoa(i) + "/" + strconv.Itoa(j),
				InfluencerLbl: trainInf[c]}
			for _, x := range mt[pc] {
				l.TextFeature = append(l.TextFeature, round(x+0.8*rng.NormFloat64()))
			}
			for _, x := range mi[pc] {
				l.ImageFeature = append(l.ImageFeature, round(math.Abs(x+0.8*rng.NormFloat64())))
			}
			if rng.Float64() < 0.7 {
				l.PostLabel = &trainPost[pc]
			}
			b, _ := json.Marshal(l)
			w.Write(append(b, '\n'))
			lines = append(lines, l)
		}
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	return lines
}

func trainSetup(t *testing.T) (bundle, dir, manifest string, lines []manifestLine) {
	t.Helper()
	bundle = goldenPath("profiler/small")
	if _, err := os.Stat(filepath.Join(bundle, "profiler.safetensors")); err != nil {
		t.Fatalf("golden bundle %s missing (run make gen): %v", bundle, err)
	}
	if err := need("ipf_trainer_create"); err != nil {
		t.Skip("library without training:", err)
	}
	dir = t.TempDir()
	manifest = filepath.Join(dir, "m.jsonl")
	lines = writeManifest(t, manifest)
	return
}

func testOpts(t *testing.T) *TrainOptions {
	o, err := DefaultTrainOptions()
	if err != nil {
		t.Fatal(err)
	}
	o.Seed, o.BatchInfluencers, o.PostsPerInfluencer, o.LR, o.ValFraction, o.Threads = 3, 4, 4, 3e-3, 0.25, 1
	return &o
}

func TestTrainOptionsDefault(t *testing.T) {
	if err := need("ipf_train_options_default"); err != nil {
		t.Skip(err)
	}
	o, err := DefaultTrainOptions()
	if err != nil {
		t.Fatal(err)
	}
	if o.LR != 1e-3 || o.BatchInfluencers != 8 || o.PostsPerInfluencer != 20 || o.Seed != 1 ||
		o.Dropout != 0.5 || o.Pooling != PoolingAttention || o.Epochs != 10 || !o.AugHFlip {
		t.Fatalf("defaults: %+v", o)
	}
}

func TestTrainerTrainSaveLoad(t *testing.T) {
	bundle, dir, manifest, lines := trainSetup(t)
	m, err := LoadModel(bundle)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	tr, err := m.NewTrainer(testOpts(t))
	if err != nil {
		t.Fatal(err)
	}
	stages := map[string]bool{}
	if err := tr.SetProgress(func(s string, done, total int64) { stages[s] = true }); err != nil {
		t.Fatal(err)
	}
	if err := m.Close(); !errors.Is(err, ErrState) {
		t.Fatalf("Model.Close with an open trainer: %v", err)
	}
	info, err := tr.LoadData(manifest)
	if err != nil {
		t.Fatal(err)
	}
	if info.Posts != 144 || info.TrainInfluencers+info.ValInfluencers != 24 || info.DroppedPosts != 0 {
		t.Fatalf("data info %+v", info)
	}
	if loss, err := tr.Step(); err != nil || !(loss > 0) {
		t.Fatalf("step: %v %v", loss, err)
	}
	ms, err := tr.Fit(4)
	if err != nil {
		t.Fatal(err)
	}
	for i, x := range ms {
		if x.Epoch != i+1 {
			t.Fatalf("epoch %d: %+v", i, x)
		}
	}
	last := ms[len(ms)-1]
	if !(last.TrainLoss < ms[0].TrainLoss) {
		t.Fatalf("training loss did not decrease: %v -> %v", ms[0].TrainLoss, last.TrainLoss)
	}
	if last.NInfluencers != 6 || len(last.InfluencerF1) != 3 || len(last.PostF1) != 4 {
		t.Fatalf("metrics %+v", last)
	}
	for _, n := range trainInf {
		if _, ok := last.InfluencerF1[n]; !ok {
			t.Fatalf("no F1 for %s: %v", n, last.InfluencerF1)
		}
	}
	ev, err := tr.Evaluate()
	if err != nil || math.Abs(ev.Loss-last.Loss) > 1e-6+1e-5*math.Abs(last.Loss) {
		t.Fatalf("evaluate %v vs %v (%v)", ev.Loss, last.Loss, err)
	}
	out := filepath.Join(dir, "out")
	if err := tr.SaveBundle(out); err != nil {
		t.Fatal(err)
	}
	if !stages["train"] || !stages["evaluate"] {
		t.Fatalf("progress stages %v", stages)
	}
	if err := tr.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := tr.Step(); !errors.Is(err, ErrState) {
		t.Fatalf("step on a closed trainer: %v", err)
	}

	m2, err := LoadModel(out)
	if err != nil {
		t.Fatal(err)
	}
	defer m2.Close()
	s, err := m2.NewSession()
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	s.SetThreads(1)
	var posts []Post
	for _, l := range lines[:6] {
		posts = append(posts, Post{TextFeature: f32(l.TextFeature), ImageFeature: f32(l.ImageFeature)})
	}
	p, err := s.Profile(posts)
	if err != nil {
		t.Fatal(err)
	}
	sum := 0.0
	for _, v := range p.Probs {
		sum += float64(v)
	}
	if math.Abs(sum-1) > 1e-4 {
		t.Fatalf("profile probs sum %v", sum)
	}
	// the saved weights evaluate to the last epoch's validation loss
	tr2, err := m2.NewTrainer(testOpts(t))
	if err != nil {
		t.Fatal(err)
	}
	defer tr2.Close()
	if _, err := tr2.LoadData(manifest); err != nil {
		t.Fatal(err)
	}
	ev2, err := tr2.Evaluate()
	if err != nil || math.Abs(ev2.Loss-last.Loss) > 1e-6+1e-5*math.Abs(last.Loss) ||
		ev2.InfluencerAccuracy != last.InfluencerAccuracy {
		t.Fatalf("saved bundle evaluates to %v, last epoch %v (%v)", ev2.Loss, last.Loss, err)
	}
}

func runEpochs(t *testing.T, m *Model, manifest string, n int, save, resume string) []*TrainMetrics {
	t.Helper()
	tr, err := m.NewTrainer(testOpts(t))
	if err != nil {
		t.Fatal(err)
	}
	defer tr.Close()
	if _, err := tr.LoadData(manifest); err != nil {
		t.Fatal(err)
	}
	if resume != "" {
		if err := tr.Resume(resume); err != nil {
			t.Fatal(err)
		}
	}
	ms, err := tr.Fit(n)
	if err != nil {
		t.Fatal(err)
	}
	if save != "" {
		if err := tr.SaveCheckpoint(save); err != nil {
			t.Fatal(err)
		}
	}
	return ms
}

func TestTrainerResume(t *testing.T) {
	bundle, dir, manifest, _ := trainSetup(t)
	m, err := LoadModel(bundle)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	ck := filepath.Join(dir, "ck")
	straight := runEpochs(t, m, manifest, 4, "", "")
	runEpochs(t, m, manifest, 2, ck, "")
	resumed := runEpochs(t, m, manifest, 2, "", ck)
	if resumed[0].Epoch != 3 || !reflect.DeepEqual(straight[2:], resumed) {
		t.Fatalf("resumed run differs:\n%+v\n%+v", straight[2:], resumed)
	}
	// a damaged checkpoint is refused
	b, _ := os.ReadFile(ck)
	b[len(b)/2] ^= 0xff
	bad := filepath.Join(dir, "ck_bad")
	os.WriteFile(bad, b, 0o644)
	tr, err := m.NewTrainer(testOpts(t))
	if err != nil {
		t.Fatal(err)
	}
	defer tr.Close()
	if _, err := tr.LoadData(manifest); err != nil {
		t.Fatal(err)
	}
	if err := tr.Resume(bad); err == nil {
		t.Fatal("damaged checkpoint accepted")
	}
}

func TestTrainerErrors(t *testing.T) {
	bundle, dir, manifest, _ := trainSetup(t)
	m, err := LoadModel(bundle)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	b, _ := os.ReadFile(manifest)
	ls := strings.SplitAfter(string(b), "\n")
	ls[4] = strings.Replace(ls[4], `"cats"`, `"horses"`, 1)
	bad := filepath.Join(dir, "bad.jsonl")
	os.WriteFile(bad, []byte(strings.Join(ls, "")), 0o644)
	tr, err := m.NewTrainer(nil)
	if err != nil {
		t.Fatal(err)
	}
	defer tr.Close()
	_, err = tr.LoadData(bad)
	var e *Error
	if !errors.As(err, &e) || !strings.Contains(e.Message, "bad.jsonl:5") || !strings.Contains(e.Message, "horses") {
		t.Fatalf("bad manifest: %v", err)
	}
	if !strings.Contains(tr.Error(), "horses") {
		t.Fatalf("Trainer.Error: %q", tr.Error())
	}
	o := testOpts(t)
	o.InceptionTrainableBlocks = 2
	if _, err := m.NewTrainer(o); !errors.Is(err, ErrNotFound) || !strings.Contains(err.Error(), "image encoder") {
		t.Fatalf("fine-tuning without an image encoder: %v", err)
	}
}
