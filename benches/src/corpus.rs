//! A deterministic corpus of prompts that look like real ones: a title of a
//! few words, a body of 150–900 bytes, a short note, zero to four tags from a
//! small vocabulary, generation settings on most versions.
//!
//! The generator is a fixed xorshift so every run (and both sides of a
//! comparison) sees the same text; it draws no key, nonce or id (those come
//! from the vault, through the OS generator).

use promptvault::{Draft, Timestamp};

const WORDS: &[&str] = &[
    "castle",
    "dawn",
    "misty",
    "forest",
    "neon",
    "city",
    "portrait",
    "of",
    "an",
    "old",
    "fisherman",
    "cinematic",
    "lighting",
    "wide",
    "angle",
    "watercolor",
    "robot",
    "garden",
    "golden",
    "hour",
    "sharp",
    "focus",
    "volumetric",
    "fog",
    "cyberpunk",
    "street",
    "rain",
    "reflections",
    "studio",
    "ghibli",
    "style",
    "highly",
    "detailed",
    "octane",
    "render",
    "mountain",
    "lake",
    "sunset",
    "dragon",
    "scales",
    "macro",
    "photo",
    "the",
    "a",
    "with",
    "and",
    "in",
    "soft",
    "pastel",
    "palette",
    "dramatic",
    "shadows",
    "isometric",
    "tiny",
    "village",
    "snow",
    "night",
    "stars",
    "aurora",
    "ocean",
    "waves",
    "lighthouse",
    "storm",
];

const TAGS: &[&str] = &[
    "Art",
    "Photo",
    "Landscape",
    "Portrait",
    "Sci-Fi",
    "Fantasy",
    "Anime",
    "Logo",
    "Draft",
    "Client",
    "Midjourney",
    "SDXL",
    "DALL-E",
    "Video",
    "Music",
    "Writing",
    "Code",
    "Äpfel",
    "Straße",
    "café",
    "Work",
    "Personal",
    "Best",
    "Archive",
    "Ideas",
    "Night",
    "Water",
    "Architecture",
    "Food",
    "Animals",
];

/// A tiny deterministic generator (xorshift64*), for text only.
#[derive(Clone, Debug)]
pub struct Rng(u64);

impl Rng {
    /// A generator from a seed (0 is replaced by a fixed constant).
    #[must_use]
    pub fn new(seed: u64) -> Self {
        Rng(if seed == 0 {
            0x9E37_79B9_7F4A_7C15
        } else {
            seed
        })
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// A number in `0..n` (`n > 0`; 0 when `n == 0`).
    pub fn below(&mut self, n: usize) -> usize {
        if n == 0 {
            return 0;
        }
        let n64 = u64::try_from(n).unwrap_or(u64::MAX);
        usize::try_from(self.next_u64() % n64).unwrap_or(0)
    }

    fn pick<'a>(&mut self, list: &[&'a str]) -> &'a str {
        let i = self.below(list.len());
        list.get(i).copied().unwrap_or("x")
    }

    /// Words joined by spaces until the text reaches `len` bytes.
    pub fn text(&mut self, len: usize) -> String {
        let mut s = String::with_capacity(len + 16);
        while s.len() < len {
            if !s.is_empty() {
                s.push(if self.below(12) == 0 { ',' } else { ' ' });
                if s.ends_with(',') {
                    s.push(' ');
                }
            }
            s.push_str(self.pick(WORDS));
        }
        s
    }
}

/// One prompt of the corpus: its tags, favorite flag and versions, oldest first.
#[derive(Clone, Debug)]
pub struct PromptSpec {
    /// Tags, in the user's spelling.
    pub tags: Vec<String>,
    /// Favorite flag.
    pub favorite: bool,
    /// Versions, oldest first, each with the time it is written.
    pub versions: Vec<(Draft, Timestamp)>,
}

/// `n` prompts with `versions` versions each, the same for a given `seed`.
#[must_use]
pub fn prompts(n: usize, versions: usize, seed: u64) -> Vec<PromptSpec> {
    let mut rng = Rng::new(seed);
    let mut out = Vec::with_capacity(n);
    for k in 0..n {
        let title_words = 2 + rng.below(4);
        let title = rng.text(title_words * 5);
        let ntags = rng.below(5);
        let mut tags: Vec<String> = Vec::with_capacity(ntags);
        for _ in 0..ntags {
            let t = rng.pick(TAGS).to_owned();
            if !tags.contains(&t) {
                tags.push(t);
            }
        }
        let favorite = rng.below(8) == 0;
        let base = 1_700_000_000_000u64 + u64::try_from(k).unwrap_or(0) * 1000;
        let mut vs = Vec::with_capacity(versions);
        for v in 0..versions {
            let body_len = 150 + rng.below(750);
            let settings = (rng.below(4) != 0).then(|| {
                serde_json::json!({
                    "model": rng.pick(&["sdxl-1.0", "mj-6", "dall-e-3", "flux-dev"]),
                    "seed": rng.next_u64() % 1_000_000,
                    "steps": 20 + rng.below(40),
                    "cfg": 7.5,
                    "size": "1024x1024",
                })
            });
            let draft = Draft {
                title: if v == 0 {
                    title.clone()
                } else {
                    format!("{title} v{}", v + 1)
                },
                body: rng.text(body_len),
                settings,
                note: {
                    let n = rng.below(40);
                    rng.text(n)
                },
            };
            vs.push((draft, Timestamp(base + u64::try_from(v).unwrap_or(0))));
        }
        out.push(PromptSpec {
            tags,
            favorite,
            versions: vs,
        });
    }
    out
}

/// A payload of exactly `len` bytes of prompt-like text (for record benches).
#[must_use]
pub fn payload(len: usize) -> Vec<u8> {
    let mut t = Rng::new(len as u64 ^ 0x5151).text(len).into_bytes();
    t.truncate(len);
    t
}
