#!/usr/bin/python3
"""Synthetic influencer dataset for the demo and tests (seeded, reproducible).

   /usr/bin/python3 examples/make_dataset.py --out DIR [--influencers 56]
       [--posts 20] [--size 160] [--seed 0] [--label-fraction 0.6]

Writes DIR/manifest.jsonl (DESIGN.md §4) and DIR/images/*.jpg.  Influencers
are spread evenly over the 8 topics of the paper (beauty, family, fashion,
fitness, food, interior, pet, travel); each posts mostly on its topic and
sometimes not (another topic, a sponsored "product" post, or "other").  Every
post category has its own visual look (palette, shapes, texture, plus noise)
and caption vocabulary (words, hashtags, emoji, some Korean / Spanish /
French / Japanese), so a model can learn both heads from either modality.
A fraction of posts carry a post label (the rest are null, as in the paper's
partially labelled data); every influencer carries its topic.
"""
import argparse
import json
import math
import os

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

TOPICS = ['beauty', 'family', 'fashion', 'fitness', 'food', 'interior', 'pet', 'travel']
POST_CLASSES = TOPICS + ['product', 'other']

VOCAB = {
    'beauty': (['makeup', 'lipstick', 'skincare', 'glow', 'serum', 'foundation', 'blush', 'mascara', 'nails',
                'palette', 'routine', 'eyeliner'], ['#beauty', '#makeup', '#skincare', '#glowup', '#motd'],
               ['💄', '💅', '✨', '🌸'], ['화장품', 'maquillaje', 'beauté', 'コスメ']),
    'family': (['kids', 'mom', 'dad', 'baby', 'family', 'weekend', 'together', 'playground', 'birthday', 'toddler',
                'siblings', 'grandma'], ['#family', '#momlife', '#kids', '#familytime', '#parenting'],
               ['👨‍👩‍👧', '👶', '❤️', '🎈'], ['가족', 'familia', 'famille', '家族']),
    'fashion': (['outfit', 'dress', 'style', 'denim', 'sneakers', 'jacket', 'streetwear', 'vintage', 'handbag',
                 'runway', 'look', 'boots'], ['#fashion', '#ootd', '#style', '#streetstyle', '#lookbook'],
                ['👗', '👠', '🕶️', '👜'], ['패션', 'moda', 'tenue', 'ファッション']),
    'fitness': (['workout', 'gym', 'squat', 'cardio', 'protein', 'training', 'run', 'deadlift', 'yoga', 'sweat',
                 'reps', 'abs'], ['#fitness', '#gym', '#workout', '#fitfam', '#training'],
                ['💪', '🏋️', '🏃', '🔥'], ['운동', 'entrenamiento', 'musculation', '筋トレ']),
    'food': (['pasta', 'recipe', 'delicious', 'brunch', 'dessert', 'pizza', 'ramen', 'homemade', 'chocolate',
              'salad', 'dinner', 'bakery'], ['#food', '#foodie', '#yummy', '#recipe', '#foodporn'],
             ['🍝', '🍕', '🍰', '😋'], ['맛집', 'comida', 'délicieux', 'ごはん']),
    'interior': (['living', 'room', 'sofa', 'decor', 'plants', 'minimal', 'kitchen', 'lamp', 'shelf', 'cozy',
                  'renovation', 'scandinavian'], ['#interior', '#homedecor', '#interiordesign', '#myhome', '#decor'],
                 ['🛋️', '🪴', '🏠', '🕯️'], ['인테리어', 'decoración', 'déco', 'インテリア']),
    'pet': (['dog', 'puppy', 'cat', 'kitten', 'paws', 'walk', 'treats', 'fluffy', 'goodboy', 'adopt', 'vet',
             'whiskers'], ['#pet', '#dogsofinstagram', '#catsofinstagram', '#puppy', '#petlover'],
            ['🐶', '🐱', '🐾', '🦴'], ['강아지', 'perro', 'chaton', '猫']),
    'travel': (['beach', 'mountains', 'sunset', 'trip', 'passport', 'island', 'hiking', 'roadtrip', 'wanderlust',
                'flight', 'explore', 'ocean'], ['#travel', '#wanderlust', '#travelgram', '#vacation', '#explore'],
               ['✈️', '🌴', '🏔️', '🌅'], ['여행', 'viaje', 'voyage', '旅行']),
    'product': (['giveaway', 'discount', 'code', 'link', 'bio', 'sponsored', 'partner', 'launch', 'shop', 'sale',
                 'collab', 'new'], ['#ad', '#sponsored', '#giveaway', '#partner', '#promo'],
                ['🎁', '🛍️', '💸', '🏷️'], ['할인', 'oferta', 'promo', 'セール']),
    'other': (['monday', 'thoughts', 'random', 'mood', 'throwback', 'today', 'quote', 'coffee', 'rainy', 'music',
               'sunday', 'life'], ['#mood', '#tbt', '#life', '#instagood', '#photooftheday'],
              ['🙂', '☕', '🎶', '💭'], ['일상', 'vida', 'pensées', '日常']),
}

PALETTES = {
    'beauty': [(236, 112, 160), (250, 190, 210), (200, 40, 90)],
    'family': [(250, 200, 80), (240, 150, 60), (255, 235, 170)],
    'fashion': [(110, 40, 140), (20, 20, 30), (200, 170, 220)],
    'fitness': [(40, 200, 90), (30, 120, 230), (230, 240, 60)],
    'food': [(170, 90, 40), (230, 120, 30), (200, 40, 30)],
    'interior': [(220, 205, 180), (150, 150, 150), (110, 90, 70)],
    'pet': [(150, 100, 60), (210, 170, 120), (80, 60, 40)],
    'travel': [(70, 150, 230), (40, 170, 90), (240, 220, 160)],
    'product': [(245, 245, 245), (30, 30, 30), (220, 30, 40)],
    'other': [(128, 128, 128), (90, 120, 110), (160, 140, 170)],
}


def jitter(rng, c, amount=25):
    return tuple(int(np.clip(v + rng.integers(-amount, amount + 1), 0, 255)) for v in c)


def draw_image(rng, cls, size):
    pal = PALETTES[cls]
    img = Image.new('RGB', (size, size), jitter(rng, pal[0]))
    d = ImageDraw.Draw(img)
    s = size
    r = lambda a, b: int(rng.integers(int(a), int(b) + 1))
    if cls == 'beauty':  # soft dots and a lipstick bar
        for _ in range(r(6, 12)):
            x, y, rad = r(0, s), r(0, s), r(s // 20, s // 8)
            d.ellipse([x - rad, y - rad, x + rad, y + rad], fill=jitter(rng, pal[rng.integers(1, 3)]))
        x = r(s // 4, 3 * s // 4)
        d.rectangle([x, s // 3, x + s // 10, 4 * s // 5], fill=jitter(rng, pal[2]))
    elif cls == 'family':  # many small figures
        for _ in range(r(3, 6)):
            x, y, h = r(s // 10, 9 * s // 10), r(s // 2, 9 * s // 10), r(s // 6, s // 3)
            d.ellipse([x - h // 6, y - h, x + h // 6, y - 2 * h // 3], fill=jitter(rng, pal[1]))
            d.rectangle([x - h // 6, y - 2 * h // 3, x + h // 6, y], fill=jitter(rng, pal[2]))
    elif cls == 'fashion':  # vertical stripes and a dress triangle
        w = r(s // 16, s // 8)
        for x in range(0, s, 2 * w):
            d.rectangle([x, 0, x + w, s], fill=jitter(rng, pal[1], 10))
        cx = r(s // 3, 2 * s // 3)
        d.polygon([(cx, s // 5), (cx - s // 4, 9 * s // 10), (cx + s // 4, 9 * s // 10)], fill=jitter(rng, pal[2]))
    elif cls == 'fitness':  # horizontal bars (dumbbells)
        for _ in range(r(2, 4)):
            y, x0 = r(s // 8, 7 * s // 8), r(0, s // 3)
            d.rectangle([x0, y - s // 40, x0 + s // 2, y + s // 40], fill=jitter(rng, pal[1]))
            for xe in (x0, x0 + s // 2):
                d.rectangle([xe - s // 20, y - s // 10, xe + s // 20, y + s // 10], fill=jitter(rng, pal[2]))
    elif cls == 'food':  # a plate with toppings
        cx, cy, rad = r(2 * s // 5, 3 * s // 5), r(2 * s // 5, 3 * s // 5), r(s // 4, 2 * s // 5)
        d.ellipse([cx - rad, cy - rad, cx + rad, cy + rad], fill=(240, 240, 235))
        d.ellipse([cx - 3 * rad // 4, cy - 3 * rad // 4, cx + 3 * rad // 4, cy + 3 * rad // 4], fill=jitter(rng, pal[1]))
        for _ in range(r(8, 16)):
            a, q = rng.random() * 2 * math.pi, rng.random() * rad * 0.6
            x, y = cx + q * math.cos(a), cy + q * math.sin(a)
            d.ellipse([x - s // 40, y - s // 40, x + s // 40, y + s // 40], fill=jitter(rng, pal[2]))
    elif cls == 'interior':  # a grid of windows / furniture blocks
        n = r(2, 4)
        for i in range(n):
            for j in range(n):
                if rng.random() < 0.7:
                    x, y, w = i * s // n, j * s // n, s // n
                    d.rectangle([x + w // 8, y + w // 8, x + 7 * w // 8, y + 7 * w // 8], fill=jitter(rng, pal[1 + (i + j) % 2]))
    elif cls == 'pet':  # a furry ellipse body with ears
        cx, cy = r(s // 3, 2 * s // 3), r(s // 2, 2 * s // 3)
        d.ellipse([cx - s // 4, cy - s // 6, cx + s // 4, cy + s // 6], fill=jitter(rng, pal[2]))
        d.ellipse([cx - s // 8, cy - s // 3, cx + s // 8, cy - s // 8], fill=jitter(rng, pal[2]))
        d.polygon([(cx - s // 8, cy - s // 4), (cx - s // 12, cy - 2 * s // 5), (cx - s // 30, cy - s // 4)], fill=pal[2])
        d.polygon([(cx + s // 8, cy - s // 4), (cx + s // 12, cy - 2 * s // 5), (cx + s // 30, cy - s // 4)], fill=pal[2])
        for _ in range(60):  # fur streaks
            x, y = r(0, s), r(0, s)
            d.line([x, y, x + r(-4, 4), y + r(3, 8)], fill=jitter(rng, pal[1]), width=1)
    elif cls == 'travel':  # sky, mountains, sea or grass
        hz = r(s // 2, 2 * s // 3)
        d.rectangle([0, hz, s, s], fill=jitter(rng, pal[1] if rng.random() < 0.5 else pal[2]))
        for _ in range(r(1, 3)):
            x, w = r(0, s), r(s // 4, s // 2)
            d.polygon([(x - w, hz), (x, hz - r(s // 5, s // 2)), (x + w, hz)], fill=jitter(rng, (90, 90, 110)))
        sx = r(s // 8, 7 * s // 8)
        d.ellipse([sx - s // 14, s // 10, sx + s // 14, s // 10 + s // 7], fill=(255, 230, 120))
    elif cls == 'product':  # one centred bottle or box on white
        cx = r(2 * s // 5, 3 * s // 5)
        if rng.random() < 0.5:
            d.rectangle([cx - s // 8, s // 3, cx + s // 8, 5 * s // 6], fill=jitter(rng, pal[2]))
            d.rectangle([cx - s // 20, s // 5, cx + s // 20, s // 3], fill=jitter(rng, pal[1]))
        else:
            d.rectangle([cx - s // 5, 2 * s // 5, cx + s // 5, 4 * s // 5], fill=jitter(rng, pal[1]))
            d.line([cx - s // 5, 3 * s // 5, cx + s // 5, 3 * s // 5], fill=pal[2], width=max(2, s // 30))
    else:  # other: random blotches of random colours
        for _ in range(r(5, 15)):
            x, y, w = r(0, s), r(0, s), r(s // 10, s // 3)
            col = tuple(int(v) for v in rng.integers(0, 256, 3))
            if rng.random() < 0.5:
                d.rectangle([x, y, x + w, y + w // 2], fill=col)
            else:
                d.ellipse([x, y, x + w, y + w], fill=col)
    arr = np.asarray(img, dtype=np.float32)
    arr += rng.normal(0, 12, arr.shape)  # sensor noise
    img = Image.fromarray(np.clip(arr, 0, 255).astype(np.uint8))
    if rng.random() < 0.3:
        img = img.filter(ImageFilter.GaussianBlur(radius=float(rng.uniform(0.5, 1.5))))
    return img


def caption(rng, cls):
    words, tags, emoji, foreign = VOCAB[cls]
    parts = list(rng.choice(words, size=int(rng.integers(3, 7)), replace=True))
    if rng.random() < 0.35:  # words from another category: real captions are noisy
        other = VOCAB[POST_CLASSES[int(rng.integers(0, len(POST_CLASSES)))]][0]
        parts += list(rng.choice(other, size=int(rng.integers(1, 3))))
    if rng.random() < 0.3:
        parts.append(str(rng.choice(foreign)))
    rng.shuffle(parts)
    text = ' '.join(parts)
    if rng.random() < 0.8:
        text += ' ' + ''.join(rng.choice(emoji, size=int(rng.integers(1, 4))))
    text += ' ' + ' '.join(rng.choice(tags, size=int(rng.integers(1, 4)), replace=False))
    if rng.random() < 0.5:
        text = text.capitalize()
    return text


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--out', required=True)
    ap.add_argument('--influencers', type=int, default=56)
    ap.add_argument('--posts', type=int, default=20, help='median posts per influencer')
    ap.add_argument('--posts-spread', type=float, default=0.5, help='sigma of log(post count)')
    ap.add_argument('--size', type=int, default=160, help='image side in pixels')
    ap.add_argument('--seed', type=int, default=0)
    ap.add_argument('--label-fraction', type=float, default=0.6, help='posts that carry a post label')
    ap.add_argument('--on-topic', type=float, default=0.6, help='probability a post is on the influencer topic')
    a = ap.parse_args()
    rng = np.random.default_rng(a.seed)
    os.makedirs(os.path.join(a.out, 'images'), exist_ok=True)
    lines = []
    for i in range(a.influencers):
        topic = TOPICS[i % len(TOPICS)]
        name = 'influencer_%03d' % i
        # post counts vary a lot between influencers (log-normal around --posts)
        n = int(np.clip(round(a.posts * math.exp(rng.normal(0, a.posts_spread))), 3, 4 * a.posts))
        for j in range(n):
            u = rng.random()
            if u < a.on_topic:
                cls = topic
            elif u < a.on_topic + 0.15:
                cls = 'product'
            elif u < a.on_topic + 0.25:
                cls = 'other'
            else:
                cls = TOPICS[int(rng.integers(0, len(TOPICS)))]
            rel = 'images/%s_%03d.jpg' % (name, j)
            draw_image(rng, cls, a.size).save(os.path.join(a.out, rel), quality=88)
            lines.append({'influencer': name, 'post': '%s/%03d' % (name, j), 'caption': caption(rng, cls),
                          'image': rel, 'influencer_label': topic,
                          'post_label': cls if rng.random() < a.label_fraction else None})
    with open(os.path.join(a.out, 'manifest.jsonl'), 'w', encoding='utf-8') as f:
        for line in lines:
            f.write(json.dumps(line, ensure_ascii=False) + '\n')
    print('make_dataset: %d influencers, %d posts -> %s' % (a.influencers, len(lines), a.out))


if __name__ == '__main__':
    main()
