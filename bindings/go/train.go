package influencerprofiler

/*
#include <stdint.h>
#include "ipf_go.h"
extern void ipfGoTrainProgress(uintptr_t id, char *stage, int64_t done, int64_t total);
static void ipf_go_progress_tramp(void *user, const char *stage, int64_t done, int64_t total) {
	ipfGoTrainProgress((uintptr_t)user, (char *)stage, done, total);
}
static ipf_status ipf_go_trainer_set_progress(ipf_trainer *t, uintptr_t id) {
	return ipf_trainer_set_progress(t, id ? ipf_go_progress_tramp : NULL, (void *)id);
}
*/
import "C"

import (
	"runtime"
	"strconv"
	"sync"
	"unsafe"
)

// LRSchedule is ipf_lr_schedule.
type LRSchedule int

const (
	LRConstant LRSchedule = 0
	LRCosine   LRSchedule = 1 // from LR to LRMin over all epochs' steps
	LRStep     LRSchedule = 2 // multiply by LRStepGamma every LRStepEpochs epochs
)

// Pooling is ipf_pooling: how post vectors become the influencer vector.
type Pooling int

const (
	PoolingAttention Pooling = 0 // the paper's attention
	PoolingMean      Pooling = 1 // plain mean (ablation)
)

// TrainMaxClasses is the most classes per head with per-class metrics.
const TrainMaxClasses = C.IPF_TRAIN_MAX_CLASSES

// TrainOptions mirrors ipf_train_options (include/influencer_profiler.h);
// get the library's defaults with DefaultTrainOptions and change fields.
type TrainOptions struct {
	LR                       float32 // 1e-3
	Beta1, Beta2, Eps        float32 // Adam: 0.9, 0.999, 1e-8
	WeightDecay              float32 // 0
	DecoupledWeightDecay     bool    // AdamW instead of L2 in the gradient
	ClipNorm                 float32 // > 0: clip the global gradient norm
	LRSchedule               LRSchedule
	LRMin                    float32 // cosine floor
	LRStepEpochs             int     // step schedule period; 10
	LRStepGamma              float32 // step schedule factor; 0.1
	Dropout                  float32 // on post and influencer vectors; 0.5
	LambdaPost               float32 // weight of the post loss; 1
	PostsPerInfluencer       int     // sampled per influencer per step; 20; 0 = all
	EvalPostsPerInfluencer   int     // at evaluation; 0 = all
	BatchInfluencers         int     // influencers per step; 8
	Epochs                   int     // for callers that loop (Trainer.Fit); 10
	Seed                     uint64  // 1
	Pooling                  Pooling
	ValFraction              float32 // stratified validation split; 0.2
	StandardizeFeatures      bool
	Augment                  bool
	AugRotationDeg           float32
	AugShift                 float32
	AugZoom                  float32
	AugHFlip                 bool
	AugChannelShift          float32
	AugFillNearest           bool
	AugCacheMB               int64
	InceptionTrainableBlocks int // top Inception blocks trained (the paper: 2)
	BERTTrainableLayers      int // top BERT layers trained (the paper: 0)
	Threads                  int // 0 = the session default
	MissingImageIsError      bool
}

func b2i(b bool) C.int32_t {
	if b {
		return 1
	}
	return 0
}

// DefaultTrainOptions returns ipf_train_options_default's values.
func DefaultTrainOptions() (TrainOptions, error) {
	var c C.ipf_train_options
	err := callTLS("ipf_train_options_default", func() C.ipf_status { return C.ipf_train_options_default(&c) })
	if err != nil {
		return TrainOptions{}, err
	}
	return TrainOptions{
		LR: float32(c.lr), Beta1: float32(c.beta1), Beta2: float32(c.beta2), Eps: float32(c.eps),
		WeightDecay: float32(c.weight_decay), DecoupledWeightDecay: c.decoupled_weight_decay != 0,
		ClipNorm: float32(c.clip_norm), LRSchedule: LRSchedule(c.lr_schedule), LRMin: float32(c.lr_min),
		LRStepEpochs: int(c.lr_step_epochs), LRStepGamma: float32(c.lr_step_gamma),
		Dropout: float32(c.dropout), LambdaPost: float32(c.lambda_post),
		PostsPerInfluencer: int(c.posts_per_influencer), EvalPostsPerInfluencer: int(c.eval_posts_per_influencer),
		BatchInfluencers: int(c.batch_influencers), Epochs: int(c.epochs), Seed: uint64(c.seed),
		Pooling: Pooling(c.pooling), ValFraction: float32(c.val_fraction),
		StandardizeFeatures: c.standardize_features != 0, Augment: c.augment != 0,
		AugRotationDeg: float32(c.aug_rotation_deg), AugShift: float32(c.aug_shift), AugZoom: float32(c.aug_zoom),
		AugHFlip: c.aug_hflip != 0, AugChannelShift: float32(c.aug_channel_shift),
		AugFillNearest: c.aug_fill_nearest != 0, AugCacheMB: int64(c.aug_cache_mb),
		InceptionTrainableBlocks: int(c.inception_trainable_blocks),
		BERTTrainableLayers:      int(c.bert_trainable_layers), Threads: int(c.threads),
		MissingImageIsError: c.missing_image_is_error != 0,
	}, nil
}

func (o *TrainOptions) toC(c *C.ipf_train_options) {
	c.lr, c.beta1, c.beta2, c.eps = C.float(o.LR), C.float(o.Beta1), C.float(o.Beta2), C.float(o.Eps)
	c.weight_decay, c.decoupled_weight_decay = C.float(o.WeightDecay), b2i(o.DecoupledWeightDecay)
	c.clip_norm, c.lr_schedule, c.lr_min = C.float(o.ClipNorm), C.int32_t(o.LRSchedule), C.float(o.LRMin)
	c.lr_step_epochs, c.lr_step_gamma = C.int32_t(o.LRStepEpochs), C.float(o.LRStepGamma)
	c.dropout, c.lambda_post = C.float(o.Dropout), C.float(o.LambdaPost)
	c.posts_per_influencer = C.int32_t(o.PostsPerInfluencer)
	c.eval_posts_per_influencer = C.int32_t(o.EvalPostsPerInfluencer)
	c.batch_influencers, c.epochs, c.seed = C.int32_t(o.BatchInfluencers), C.int32_t(o.Epochs), C.uint64_t(o.Seed)
	c.pooling, c.val_fraction = C.int32_t(o.Pooling), C.float(o.ValFraction)
	c.standardize_features, c.augment = b2i(o.StandardizeFeatures), b2i(o.Augment)
	c.aug_rotation_deg, c.aug_shift, c.aug_zoom = C.float(o.AugRotationDeg), C.float(o.AugShift), C.float(o.AugZoom)
	c.aug_hflip, c.aug_channel_shift = b2i(o.AugHFlip), C.float(o.AugChannelShift)
	c.aug_fill_nearest, c.aug_cache_mb = b2i(o.AugFillNearest), C.int64_t(o.AugCacheMB)
	c.inception_trainable_blocks = C.int32_t(o.InceptionTrainableBlocks)
	c.bert_trainable_layers, c.threads = C.int32_t(o.BERTTrainableLayers), C.int32_t(o.Threads)
	c.missing_image_is_error = b2i(o.MissingImageIsError)
}

// TrainMetrics is ipf_train_metrics with per-class values keyed by class name.
type TrainMetrics struct {
	Epoch                int   // completed epochs
	Step                 int64 // optimisation steps so far
	TrainLoss            float64
	Loss                 float64 // evaluation loss (no dropout)
	LossInfluencer       float64
	LossPost             float64
	InfluencerAccuracy   float64
	PostAccuracy         float64
	InfluencerMacroF1    float64
	PostMacroF1          float64
	NInfluencers, NPosts int // labelled influencers / posts evaluated
	InfluencerF1, PostF1 map[string]float64
	InfluencerSupport    map[string]int
	PostSupport          map[string]int
	InfluencerClasses    []string // the influencer head's class names in index order
	PostClasses          []string // the post head's class names in index order
}

// DataInfo are the counts after Trainer.LoadData.
type DataInfo struct {
	TrainInfluencers, ValInfluencers, Posts, DroppedPosts int
}

// Trainer trains a copy of a model's profiler (and optionally the top
// encoder layers).  Its methods lock a mutex; use it from one goroutine.
// The model stays open (Model.Close fails) until the trainer is closed.
type Trainer struct {
	mu         sync.Mutex
	p          *C.ipf_trainer
	Model      *Model
	Options    TrainOptions
	progressID uintptr
}

// NewTrainer creates a trainer from a model with a profiler; opts nil = defaults.
func (m *Model) NewTrainer(opts *TrainOptions) (*Trainer, error) {
	var o TrainOptions
	if opts != nil {
		o = *opts
	} else {
		var err error
		if o, err = DefaultTrainOptions(); err != nil {
			return nil, err
		}
	}
	var c C.ipf_train_options
	if err := callTLS("ipf_train_options_default", func() C.ipf_status { return C.ipf_train_options_default(&c) }); err != nil {
		return nil, err
	}
	o.toC(&c)
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.p == nil {
		return nil, errClosed("model")
	}
	var tp *C.ipf_trainer
	mp := m.p
	if err := callTLS("ipf_trainer_create", func() C.ipf_status { return C.ipf_trainer_create(mp, &c, &tp) }); err != nil {
		return nil, err
	}
	m.sessions++
	t := &Trainer{p: tp, Model: m, Options: o}
	runtime.SetFinalizer(t, func(t *Trainer) { t.Close() })
	return t, nil
}

// Close frees the trainer; closing twice is a no-op.
func (t *Trainer) Close() error {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.p == nil {
		return nil
	}
	C.ipf_trainer_free(t.p)
	t.p = nil
	runtime.SetFinalizer(t, nil)
	setProgressFn(t.progressID, nil)
	t.Model.mu.Lock()
	t.Model.sessions--
	t.Model.mu.Unlock()
	return nil
}

// Error is ipf_trainer_error: the last failed call's message ("" if none).
func (t *Trainer) Error() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.p == nil || need("ipf_trainer_error") != nil {
		return ""
	}
	return C.GoString(C.ipf_trainer_error(t.p))
}

func (t *Trainer) call(fn string, f func(p *C.ipf_trainer) C.ipf_status) error {
	if err := need(fn); err != nil {
		return err
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.p == nil {
		return errClosed("trainer")
	}
	if st := f(t.p); st != C.IPF_OK {
		return &Error{Status: Status(st), Message: C.GoString(C.ipf_trainer_error(t.p))}
	}
	return nil
}

func (t *Trainer) pathCall(fn, path string, f func(p *C.ipf_trainer, c *C.char) C.ipf_status) error {
	cpath := C.CString(path)
	defer C.free(unsafe.Pointer(cpath))
	return t.call(fn, func(p *C.ipf_trainer) C.ipf_status { return f(p, cpath) })
}

// ---- progress ----

var (
	progressMu   sync.RWMutex
	progressFns  = map[uintptr]func(stage string, done, total int64){}
	progressNext uintptr
)

func setProgressFn(id uintptr, fn func(string, int64, int64)) {
	progressMu.Lock()
	defer progressMu.Unlock()
	if fn == nil {
		delete(progressFns, id)
	} else {
		progressFns[id] = fn
	}
}

//export ipfGoTrainProgress
func ipfGoTrainProgress(id C.uintptr_t, stage *C.char, done, total C.int64_t) {
	progressMu.RLock()
	fn := progressFns[uintptr(id)]
	progressMu.RUnlock()
	if fn != nil {
		fn(C.GoString(stage), int64(done), int64(total))
	}
}

// SetProgress calls fn(stage, done, total) during long calls, on the
// calling goroutine; stage is "features", "train" or "evaluate".  nil removes
// it.  fn must not call the trainer (its lock is held during the call).
func (t *Trainer) SetProgress(fn func(stage string, done, total int64)) error {
	var id uintptr
	if fn != nil {
		progressMu.Lock()
		progressNext++
		id = progressNext
		progressFns[id] = fn
		progressMu.Unlock()
	}
	err := t.call("ipf_trainer_set_progress", func(p *C.ipf_trainer) C.ipf_status {
		return C.ipf_go_trainer_set_progress(p, C.uintptr_t(id))
	})
	if err != nil {
		setProgressFn(id, nil)
		return err
	}
	t.mu.Lock()
	old := t.progressID
	t.progressID = id
	t.mu.Unlock()
	setProgressFn(old, nil)
	return nil
}

// ---- data and training ----

// SetFeatureCache uses path as a feature cache (before LoadData).
func (t *Trainer) SetFeatureCache(path string) error {
	return t.pathCall("ipf_trainer_set_feature_cache", path, func(p *C.ipf_trainer, c *C.char) C.ipf_status {
		return C.ipf_trainer_set_feature_cache(p, c)
	})
}

// LoadData reads a JSONL manifest (plain or gzip; docs/training.md),
// splits it and computes features; it returns the counts.
func (t *Trainer) LoadData(manifestPath string) (DataInfo, error) {
	err := t.pathCall("ipf_trainer_load_data", manifestPath, func(p *C.ipf_trainer, c *C.char) C.ipf_status {
		return C.ipf_trainer_load_data(p, c)
	})
	if err != nil {
		return DataInfo{}, err
	}
	return t.DataInfo()
}

// DataInfo returns the counts of the loaded data.
func (t *Trainer) DataInfo() (DataInfo, error) {
	var a, b, c, d C.int32_t
	err := t.call("ipf_trainer_data_info", func(p *C.ipf_trainer) C.ipf_status {
		return C.ipf_trainer_data_info(p, &a, &b, &c, &d)
	})
	return DataInfo{int(a), int(b), int(c), int(d)}, err
}

// Step runs one optimisation step and returns the batch loss.
func (t *Trainer) Step() (float64, error) {
	var loss C.double
	err := t.call("ipf_trainer_step", func(p *C.ipf_trainer) C.ipf_status { return C.ipf_trainer_step(p, &loss) })
	return float64(loss), err
}

func (t *Trainer) metrics(fn string, f func(p *C.ipf_trainer, m *C.ipf_train_metrics) C.ipf_status) (*TrainMetrics, error) {
	m := (*C.ipf_train_metrics)(C.calloc(1, C.sizeof_ipf_train_metrics))
	if m == nil {
		return nil, newError(StatusOutOfMemory, "metrics")
	}
	defer C.free(unsafe.Pointer(m))
	m.struct_size = C.sizeof_ipf_train_metrics
	if err := t.call(fn, func(p *C.ipf_trainer) C.ipf_status { return f(p, m) }); err != nil {
		return nil, err
	}
	out := &TrainMetrics{
		Epoch: int(m.epoch), Step: int64(m.step), TrainLoss: float64(m.train_loss), Loss: float64(m.loss),
		LossInfluencer: float64(m.loss_influencer), LossPost: float64(m.loss_post),
		InfluencerAccuracy: float64(m.influencer_accuracy), PostAccuracy: float64(m.post_accuracy),
		InfluencerMacroF1: float64(m.influencer_macro_f1), PostMacroF1: float64(m.post_macro_f1),
		NInfluencers: int(m.n_influencers), NPosts: int(m.n_posts),
	}
	names := func(h Head, n int) []string {
		if n > TrainMaxClasses {
			n = TrainMaxClasses
		}
		all, _ := t.Model.ClassNames(h)
		res := make([]string, n)
		for i := range res {
			if i < len(all) {
				res[i] = all[i]
			} else {
				res[i] = strconv.Itoa(i)
			}
		}
		return res
	}
	out.InfluencerClasses = names(HeadInfluencer, int(m.n_influencer_classes))
	out.PostClasses = names(HeadPost, int(m.n_post_classes))
	out.InfluencerF1, out.InfluencerSupport = map[string]float64{}, map[string]int{}
	for i, n := range out.InfluencerClasses {
		out.InfluencerF1[n] = float64(m.influencer_f1[i])
		out.InfluencerSupport[n] = int(m.influencer_support[i])
	}
	out.PostF1, out.PostSupport = map[string]float64{}, map[string]int{}
	for i, n := range out.PostClasses {
		out.PostF1[n] = float64(m.post_f1[i])
		out.PostSupport[n] = int(m.post_support[i])
	}
	return out, nil
}

// Epoch steps to the end of the current epoch, then evaluates.
func (t *Trainer) Epoch() (*TrainMetrics, error) {
	return t.metrics("ipf_trainer_epoch", func(p *C.ipf_trainer, m *C.ipf_train_metrics) C.ipf_status {
		return C.ipf_trainer_epoch(p, m)
	})
}

// Evaluate computes metrics on the validation split (the training split
// when there is none), without dropout.
func (t *Trainer) Evaluate() (*TrainMetrics, error) {
	return t.metrics("ipf_trainer_evaluate", func(p *C.ipf_trainer, m *C.ipf_train_metrics) C.ipf_status {
		return C.ipf_trainer_evaluate(p, m)
	})
}

// Fit runs epochs epochs (Options.Epochs when epochs < 0) and returns each
// epoch's metrics; on an error it returns the metrics so far.
func (t *Trainer) Fit(epochs int) ([]*TrainMetrics, error) {
	if epochs < 0 {
		epochs = t.Options.Epochs
	}
	var out []*TrainMetrics
	for i := 0; i < epochs; i++ {
		m, err := t.Epoch()
		if err != nil {
			return out, err
		}
		out = append(out, m)
	}
	return out, nil
}

// ---- output ----

// SaveBundle writes a model bundle (loadable with LoadModel) to outDir.
func (t *Trainer) SaveBundle(outDir string) error {
	return t.pathCall("ipf_trainer_save_bundle", outDir, func(p *C.ipf_trainer, c *C.char) C.ipf_status {
		return C.ipf_trainer_save_bundle(p, c)
	})
}

// SaveCheckpoint atomically saves parameters, optimiser state, RNG and position.
func (t *Trainer) SaveCheckpoint(path string) error {
	return t.pathCall("ipf_trainer_checkpoint_save", path, func(p *C.ipf_trainer, c *C.char) C.ipf_status {
		return C.ipf_trainer_checkpoint_save(p, c)
	})
}

// Resume restores a checkpoint of a trainer with the same configuration and
// data (call after LoadData); training then continues bit-exactly.
func (t *Trainer) Resume(path string) error {
	return t.pathCall("ipf_trainer_checkpoint_resume", path, func(p *C.ipf_trainer, c *C.char) C.ipf_status {
		return C.ipf_trainer_checkpoint_resume(p, c)
	})
}
