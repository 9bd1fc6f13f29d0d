package influencerprofiler

/*
#include "ipf_go.h"
*/
import "C"

import "unsafe"

// Post is one post.  Each modality comes from the first of: cached feature,
// raw input (ImageData before ImagePath).  An empty Caption means "no
// caption"; a post needs at least one modality.
type Post struct {
	ID           string    // caller's label, echoed in Profile results; not sent to the library
	Caption      string    // UTF-8
	ImageData    []byte    // encoded image
	ImagePath    string    // image file, used when ImageData is empty
	TextFeature  []float32 // cached x_T (DimText floats), or nil
	ImageFeature []float32 // cached Inception pool features (DimImagePool floats), or nil
}

// PostEncoding is what EncodePost returns; store the features to skip the
// encoders next time (Post.TextFeature / Post.ImageFeature).
type PostEncoding struct {
	TextFeature  []float32
	ImageFeature []float32
	PostVec      []float32
}

// cPosts copies posts into C memory (the struct holds pointers, which cgo
// does not allow for Go memory).
func (m *Model) cPosts(posts []Post, a *arena) (*C.ipf_post, error) {
	n := len(posts)
	arr := (*[1 << 24]C.ipf_post)(a.alloc(n * int(C.sizeof_ipf_post)))[:n:n]
	cstr := func(b []byte) *C.char {
		p := a.alloc(len(b) + 1)
		copy((*[1 << 30]byte)(p)[:len(b):len(b)], b)
		return (*C.char)(p)
	}
	cfloats := func(v []float32, want int, what string, i int) (*C.float, error) {
		if len(v) != want {
			return nil, newError(StatusShape, "post %d: %s has %d floats, expected %d", i, what, len(v), want)
		}
		p := a.alloc(4 * want)
		copy((*[1 << 28]float32)(p)[:want:want], v)
		return (*C.float)(p), nil
	}
	var err error
	for i, p := range posts {
		c := &arr[i]
		c.struct_size = C.size_t(C.sizeof_ipf_post)
		if p.Caption != "" {
			c.caption = cstr([]byte(p.Caption))
			c.caption_len = C.size_t(len(p.Caption))
		}
		if len(p.ImageData) > 0 {
			c.image_data = unsafe.Pointer(cstr(p.ImageData))
			c.image_len = C.size_t(len(p.ImageData))
		}
		if p.ImagePath != "" {
			c.image_path = cstr([]byte(p.ImagePath))
		}
		if p.TextFeature != nil {
			if c.text_feature, err = cfloats(p.TextFeature, m.dimOr(DimText), "TextFeature", i); err != nil {
				return nil, err
			}
		}
		if p.ImageFeature != nil {
			if c.image_feature, err = cfloats(p.ImageFeature, m.dimOr(DimImagePool), "ImageFeature", i); err != nil {
				return nil, err
			}
		}
	}
	return &arr[0], nil
}

// EncodePost encodes one post: its text and image features (zeros for a
// missing modality) and its post vector.
func (s *Session) EncodePost(post Post) (*PostEncoding, error) {
	var a arena
	defer a.free()
	cp, err := s.Model.cPosts([]Post{post}, &a)
	if err != nil {
		return nil, err
	}
	d, err := s.Model.Dim(DimPost)
	if err != nil {
		return nil, err
	}
	e := &PostEncoding{
		TextFeature:  make([]float32, s.Model.dimOr(DimText)),
		ImageFeature: make([]float32, s.Model.dimOr(DimImagePool)),
		PostVec:      make([]float32, d),
	}
	err = s.call("ipf_session_encode_post", func(p *C.ipf_session) C.ipf_status {
		return C.ipf_session_encode_post(p, cp, f32p(e.TextFeature), f32p(e.ImageFeature), f32p(e.PostVec))
	})
	if err != nil {
		return nil, err
	}
	return e, nil
}

// EncodePosts gives the post vectors (DimPost floats each) of n posts.
func (s *Session) EncodePosts(posts []Post) ([][]float32, error) {
	if len(posts) == 0 {
		return nil, newError(StatusInvalidArgument, "EncodePosts: no posts")
	}
	d, err := s.Model.Dim(DimPost)
	if err != nil {
		return nil, err
	}
	var a arena
	defer a.free()
	cp, err := s.Model.cPosts(posts, &a)
	if err != nil {
		return nil, err
	}
	out := make([]float32, len(posts)*d)
	err = s.call("ipf_session_encode_posts", func(p *C.ipf_session) C.ipf_status {
		return C.ipf_session_encode_posts(p, cp, C.size_t(len(posts)), f32p(out), C.size_t(len(out)))
	})
	if err != nil {
		return nil, err
	}
	return split(out, len(posts), d), nil
}

func (s *Session) vecIn(v []float32, what string) error {
	d, err := s.Model.Dim(DimPost)
	if err != nil {
		return err
	}
	if len(v) != d {
		return newError(StatusShape, "%s has %d floats, expected %d", what, len(v), d)
	}
	return nil
}

// ClassifyPost gives the post head's probabilities for one post vector.
func (s *Session) ClassifyPost(postVec []float32) ([]float32, error) {
	if err := s.vecIn(postVec, "post vector"); err != nil {
		return nil, err
	}
	c, err := s.Model.Dim(DimPostClasses)
	if err != nil {
		return nil, err
	}
	out := make([]float32, c)
	err = s.call("ipf_session_classify_post", func(p *C.ipf_session) C.ipf_status {
		return C.ipf_session_classify_post(p, f32p(postVec), f32p(out), C.size_t(len(out)))
	})
	return out, err
}

// Pool does attention pooling over n >= 1 post vectors: the influencer
// vector and the n attention weights.
func (s *Session) Pool(postVecs [][]float32) (influencerVec, alpha []float32, err error) {
	d, err := s.Model.Dim(DimPost)
	if err != nil {
		return nil, nil, err
	}
	n := len(postVecs)
	if n == 0 {
		return nil, nil, newError(StatusInvalidArgument, "Pool: no post vectors")
	}
	flat := make([]float32, 0, n*d)
	for i, v := range postVecs {
		if len(v) != d {
			return nil, nil, newError(StatusShape, "post vector %d has %d floats, expected %d", i, len(v), d)
		}
		flat = append(flat, v...)
	}
	influencerVec = make([]float32, d)
	alpha = make([]float32, n)
	err = s.call("ipf_session_pool", func(p *C.ipf_session) C.ipf_status {
		return C.ipf_session_pool(p, f32p(flat), C.size_t(n), f32p(influencerVec), f32p(alpha), C.size_t(n))
	})
	if err != nil {
		return nil, nil, err
	}
	return influencerVec, alpha, nil
}

// ClassifyInfluencer gives the influencer head's probabilities.
func (s *Session) ClassifyInfluencer(influencerVec []float32) ([]float32, error) {
	if err := s.vecIn(influencerVec, "influencer vector"); err != nil {
		return nil, err
	}
	c, err := s.Model.Dim(DimInfluencerClasses)
	if err != nil {
		return nil, err
	}
	out := make([]float32, c)
	err = s.call("ipf_session_classify_influencer", func(p *C.ipf_session) C.ipf_status {
		return C.ipf_session_classify_influencer(p, f32p(influencerVec), f32p(out), C.size_t(len(out)))
	})
	return out, err
}

// PostProfile is one post's part of a Profile.
type PostProfile struct {
	ID        string
	Label     string             // most probable post class
	Probs     map[string]float32 // post class -> probability
	Attention float32            // its weight in the influencer vector
}

// Profile is the result of Session.Profile.
type Profile struct {
	Label     string             // most probable influencer class
	Probs     map[string]float32 // influencer class -> probability
	Attention []float32          // per post, summing to 1
	Posts     []PostProfile
}

func argmax(v []float32) int {
	best := 0
	for i := range v {
		if v[i] > v[best] {
			best = i
		}
	}
	return best
}

func named(names []string, probs []float32) map[string]float32 {
	m := make(map[string]float32, len(names))
	for i, n := range names {
		m[n] = probs[i]
	}
	return m
}

// Profile encodes n >= 1 posts of one influencer, pools them and classifies
// the influencer and each post, in one call.
func (s *Session) Profile(posts []Post) (*Profile, error) {
	n := len(posts)
	if n == 0 {
		return nil, newError(StatusInvalidArgument, "Profile: no posts")
	}
	infNames, err := s.Model.ClassNames(HeadInfluencer)
	if err != nil {
		return nil, err
	}
	postNames, err := s.Model.ClassNames(HeadPost)
	if err != nil {
		return nil, err
	}
	var a arena
	defer a.free()
	cp, err := s.Model.cPosts(posts, &a)
	if err != nil {
		return nil, err
	}
	inf := make([]float32, len(infNames))
	pp := make([]float32, n*len(postNames))
	alpha := make([]float32, n)
	err = s.call("ipf_session_profile", func(p *C.ipf_session) C.ipf_status {
		return C.ipf_session_profile(p, cp, C.size_t(n), f32p(inf), f32p(pp), f32p(alpha))
	})
	if err != nil {
		return nil, err
	}
	r := &Profile{Label: infNames[argmax(inf)], Probs: named(infNames, inf), Attention: alpha,
		Posts: make([]PostProfile, n)}
	for i, row := range split(pp, n, len(postNames)) {
		r.Posts[i] = PostProfile{ID: posts[i].ID, Label: postNames[argmax(row)], Probs: named(postNames, row),
			Attention: alpha[i]}
	}
	return r, nil
}
