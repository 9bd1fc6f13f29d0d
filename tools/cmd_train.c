/* cmd_train.c — `ipf train`: train the profiler heads on a manifest and
 * write a model bundle (DESIGN.md §5).  Progress (with rate and ETA) on
 * stderr, one JSON line of metrics per epoch on stdout.  With --epochs 0 it
 * only evaluates the model on the manifest (use --val-fraction 0 to
 * evaluate on every influencer). */
#include "ipf_tool.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

typedef struct progress {
    int tty, quiet;
    const char *stage;
    double t0, last;
    int64_t last_done;
} progress;

static void fmt_time(char *buf, size_t cap, double s) {
    if (s < 0 || s > 1e7) snprintf(buf, cap, "--");
    else if (s < 60) snprintf(buf, cap, "%.0fs", s);
    else if (s < 3600) snprintf(buf, cap, "%dm%02ds", (int)s / 60, (int)s % 60);
    else snprintf(buf, cap, "%dh%02dm", (int)s / 3600, ((int)s % 3600) / 60);
}

/* A progress bar: "[stage] ########------  123/456  41.2/s  ETA 14s".  On a
 * terminal it redraws in place (at most 10 times a second); otherwise one
 * line when a stage that took a second or more completes. */
static void on_progress(void *user, const char *stage, int64_t done, int64_t total) {
    progress *p = user;
    if (p->quiet) return;
    double t = now_s();
    if (!p->stage || strcmp(p->stage, stage) || done < p->last_done) {
        p->stage = stage;
        p->t0 = t;
        p->last = 0;
    }
    p->last_done = done;
    int finished = done >= total;
    if (!finished && (!p->tty || t - p->last < 0.1)) return;
    if (finished && !p->tty && t - p->t0 < 1.0) return; /* in logs, only stages worth a line */
    p->last = t;
    double el = t - p->t0, rate = el > 0 ? done / el : 0;
    char eta[32], elapsed[32];
    fmt_time(eta, sizeof eta, rate > 0 ? (total - done) / rate : -1);
    fmt_time(elapsed, sizeof elapsed, el);
    int width = 24, fill = total > 0 ? (int)(width * done / total) : width;
    char bar[32];
    for (int i = 0; i < width; i++) bar[i] = i < fill ? '#' : '-';
    bar[width] = 0;
    fprintf(stderr, "%s[%-8s] %s %6lld/%-6lld %7.1f/s  %s %s%s", p->tty ? "\r" : "", stage, bar, (long long)done,
            (long long)total, rate, finished ? "took" : "ETA", finished ? elapsed : eta,
            finished || !p->tty ? "\n" : "");
    fflush(stderr);
}

static void print_f1(const ipf_model *m, ipf_head head, const float *f1, const int32_t *support, int n) {
    printf("{");
    for (int c = 0; c < n; c++) {
        const char *name = "?";
        ipf_model_class_name(m, head, c, &name);
        printf("%s\"%s\": {\"f1\": %.4f, \"support\": %d}", c ? ", " : "", name, f1[c], support[c]);
    }
    printf("}");
}

static void print_metrics(const ipf_model *model, const ipf_train_metrics *m, double seconds, int eval_only) {
    printf("{\"epoch\": %d, \"step\": %lld, ", m->epoch, (long long)m->step);
    if (!eval_only) printf("\"train_loss\": %.6f, ", m->train_loss);
    printf("\"loss\": %.6f, \"loss_influencer\": %.6f, \"loss_post\": %.6f, "
           "\"influencer_accuracy\": %.4f, \"influencer_macro_f1\": %.4f, \"post_accuracy\": %.4f, "
           "\"post_macro_f1\": %.4f, \"n_influencers\": %d, \"n_posts\": %d, \"seconds\": %.2f, \"influencer_f1\": ",
           m->loss, m->loss_influencer, m->loss_post, m->influencer_accuracy, m->influencer_macro_f1,
           m->post_accuracy, m->post_macro_f1, m->n_influencers, m->n_posts, seconds);
    print_f1(model, IPF_HEAD_INFLUENCER, m->influencer_f1, m->influencer_support, m->n_influencer_classes);
    printf(", \"post_f1\": ");
    print_f1(model, IPF_HEAD_POST, m->post_f1, m->post_support, m->n_post_classes);
    printf("}\n");
    fflush(stdout);
}

static void usage_train(void) {
    fprintf(stderr,
            "usage: ipf train --model DIR --data MANIFEST --out DIR [options]\n"
            "  --epochs N          epochs (10); 0 = only evaluate --model on the data\n"
            "  --seed S            random seed (1)\n"
            "  --lr X              Adam learning rate (1e-3)\n"
            "  --weight-decay X    weight decay (0); --adamw makes it decoupled\n"
            "  --clip X            clip the global gradient norm (off)\n"
            "  --schedule NAME     constant | cosine | step (constant)\n"
            "  --batch N           influencers per step (8)\n"
            "  --posts N           posts sampled per influencer in training (20; 0 = all)\n"
            "  --eval-posts N      posts per influencer at evaluation (0 = all)\n"
            "  --pooling NAME      attention | mean (attention)\n"
            "  --dropout P         dropout on post and influencer vectors (0.5)\n"
            "  --lambda X          weight of the post loss (1)\n"
            "  --val-fraction F    stratified validation split (0.2)\n"
            "  --standardize       standardise features (folded into the saved weights)\n"
            "  --augment           image augmentation (reruns Inception per copy: slow)\n"
            "  --threads N         compute threads\n"
            "  --feature-cache F   keep computed features in F and reuse them\n"
            "  --checkpoint F      save a checkpoint to F after every epoch\n"
            "  --resume            continue from --checkpoint when it exists\n"
            "  --inception-blocks N  fine-tune Inception's top N blocks (paper: 2; default 0)\n"
            "  --bert-layers N     fine-tune BERT's top N layers (default 0: frozen)\n"
            "  --quiet             no progress on stderr\n");
}

int cmd_train(int argc, char **argv) {
    const char *model_dir = NULL, *data = NULL, *out = NULL, *cache = NULL, *ckpt = NULL;
    int resume = 0;
    ipf_train_options o;
    ipf_train_options_default(&o);
    progress pr = {0};
    pr.tty = isatty(2);
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
#define ARG(name) (!strcmp(a, name) && v && (i++, 1))
        if (ARG("--model")) model_dir = v;
        else if (ARG("--data")) data = v;
        else if (ARG("--out")) out = v;
        else if (ARG("--epochs")) { long long x_; if (tool_int_arg("train", a, v, 0, 1000000, &x_)) return 2; o.epochs = (int32_t)x_; }
        else if (ARG("--seed")) { long long x_; if (tool_int_arg("train", a, v, 0, INT64_MAX, &x_)) return 2; o.seed = (uint64_t)x_; }
        else if (ARG("--lr")) { if (tool_float_arg("train", a, v, &o.lr)) return 2; }
        else if (ARG("--weight-decay")) { if (tool_float_arg("train", a, v, &o.weight_decay)) return 2; }
        else if (!strcmp(a, "--adamw")) o.decoupled_weight_decay = 1;
        else if (ARG("--clip")) { if (tool_float_arg("train", a, v, &o.clip_norm)) return 2; }
        else if (ARG("--schedule")) {
            if (!strcmp(v, "constant")) o.lr_schedule = IPF_LR_CONSTANT;
            else if (!strcmp(v, "cosine")) o.lr_schedule = IPF_LR_COSINE;
            else if (!strcmp(v, "step")) o.lr_schedule = IPF_LR_STEP;
            else {
                fprintf(stderr, "ipf train: unknown schedule '%s'\n", v);
                return 2;
            }
        } else if (ARG("--batch")) { long long x_; if (tool_int_arg("train", a, v, 0, 1000000, &x_)) return 2; o.batch_influencers = (int32_t)x_; }
        else if (ARG("--posts")) { long long x_; if (tool_int_arg("train", a, v, 0, 1000000, &x_)) return 2; o.posts_per_influencer = (int32_t)x_; }
        else if (ARG("--eval-posts")) { long long x_; if (tool_int_arg("train", a, v, 0, 1000000, &x_)) return 2; o.eval_posts_per_influencer = (int32_t)x_; }
        else if (ARG("--pooling")) {
            if (!strcmp(v, "attention")) o.pooling = IPF_POOLING_ATTENTION;
            else if (!strcmp(v, "mean")) o.pooling = IPF_POOLING_MEAN;
            else {
                fprintf(stderr, "ipf train: unknown pooling '%s'\n", v);
                return 2;
            }
        } else if (ARG("--dropout")) { if (tool_float_arg("train", a, v, &o.dropout)) return 2; }
        else if (ARG("--lambda")) { if (tool_float_arg("train", a, v, &o.lambda_post)) return 2; }
        else if (ARG("--val-fraction")) { if (tool_float_arg("train", a, v, &o.val_fraction)) return 2; }
        else if (!strcmp(a, "--standardize")) o.standardize_features = 1;
        else if (!strcmp(a, "--augment")) o.augment = 1;
        else if (ARG("--threads")) { long long x_; if (tool_int_arg("train", a, v, 0, 256, &x_)) return 2; o.threads = (int32_t)x_; }
        else if (ARG("--feature-cache")) cache = v;
        else if (ARG("--checkpoint")) ckpt = v;
        else if (!strcmp(a, "--resume")) resume = 1;
        else if (ARG("--inception-blocks")) { long long x_; if (tool_int_arg("train", a, v, 0, 1000000, &x_)) return 2; o.inception_trainable_blocks = (int32_t)x_; }
        else if (ARG("--bert-layers")) { long long x_; if (tool_int_arg("train", a, v, 0, 1000000, &x_)) return 2; o.bert_trainable_layers = (int32_t)x_; }
        else if (!strcmp(a, "--quiet")) pr.quiet = 1;
        else if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            usage_train();
            return 0;
        } else {
            fprintf(stderr, "ipf train: unknown or incomplete option '%s'\n", a);
            usage_train();
            return 2;
        }
#undef ARG
    }
    if (!model_dir || !data || (!out && o.epochs > 0)) {
        fprintf(stderr, "ipf train: --model, --data and --out are required\n");
        usage_train();
        return 2;
    }
    ipf_model *model = NULL;
    ipf_trainer *t = NULL;
    int rc = 1;
    ipf_status st = ipf_model_load(model_dir, &model);
    if (st) {
        fprintf(stderr, "ipf train: %s\n", ipf_last_error());
        return 1;
    }
    if ((st = ipf_trainer_create(model, &o, &t))) {
        fprintf(stderr, "ipf train: %s\n", ipf_last_error());
        goto done;
    }
    ipf_trainer_set_progress(t, on_progress, &pr);
    if (cache) ipf_trainer_set_feature_cache(t, cache);
    if ((st = ipf_trainer_load_data(t, data))) goto fail;
    int32_t ntr, nval, nposts, dropped;
    ipf_trainer_data_info(t, &ntr, &nval, &nposts, &dropped);
    if (!pr.quiet)
        fprintf(stderr, "ipf train: %d posts (%d dropped: missing image), %d training and %d validation influencers\n",
                nposts, dropped, ntr, nval);
    if (resume && ckpt && access(ckpt, F_OK) == 0) {
        if ((st = ipf_trainer_checkpoint_resume(t, ckpt))) goto fail;
        if (!pr.quiet) fprintf(stderr, "ipf train: resumed from %s\n", ckpt);
    }
    ipf_train_metrics m;
    memset(&m, 0, sizeof m);
    m.struct_size = sizeof m;
    if (o.epochs == 0) {
        double t0 = now_s();
        if ((st = ipf_trainer_evaluate(t, &m))) goto fail;
        print_metrics(model, &m, now_s() - t0, 1);
        rc = 0;
        goto done;
    }
    if ((st = ipf_trainer_evaluate(t, &m))) goto fail;
    for (int ep = m.epoch; ep < o.epochs; ep++) {
        double t0 = now_s();
        if ((st = ipf_trainer_epoch(t, &m))) goto fail;
        print_metrics(model, &m, now_s() - t0, 0);
        if (ckpt && (st = ipf_trainer_checkpoint_save(t, ckpt))) goto fail;
    }
    if ((st = ipf_trainer_save_bundle(t, out))) goto fail;
    if (!pr.quiet) fprintf(stderr, "ipf train: wrote %s\n", out);
    rc = 0;
    goto done;
fail:
    fprintf(stderr, "ipf train: %s\n", ipf_trainer_error(t));
    if (st == IPF_ERR_NUMERIC && ckpt) fprintf(stderr, "ipf train: the last good checkpoint is kept in %s\n", ckpt);
done:
    ipf_trainer_free(t);
    ipf_model_free(model);
    return rc;
}
