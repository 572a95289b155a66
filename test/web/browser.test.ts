/**
 * The LAN web page in real headless Chromium (Debian's /usr/bin/chromium through
 * playwright-core; scripts/setup.sh installs it): the library is listed with names as text,
 * a video plays (currentTime > 0) and a seek lands, an Ogg Vorbis track plays in the <audio>
 * element, and a network search result plays from /stream/ while it is still downloading.
 */
import test from 'ava'
import fs from 'node:fs/promises'
import path from 'node:path'
import type { Page } from 'playwright-core'
import { AUDIO_DIR, BIG_CLIP, SMALL_CLIP, shareWith, startNode } from '../helpers/nodes.ts'
import { browser, startWeb } from './helpers.ts'

const EVIL = '<img src=x onerror=alert(1)>.mp4'

/** Wait until the element's currentTime passes `seconds`; returns it. */
async function playsPast(page: Page, selector: string, seconds: number): Promise<number> {
  await page.waitForFunction(([sel, s]) => (document.querySelector(sel as string) as HTMLMediaElement).currentTime > (s as number), [selector, seconds], { timeout: 30_000 })
  return page.$eval(selector, (el) => (el as HTMLMediaElement).currentTime)
}

/** Set currentTime and resolve with the position after 'seeked'. */
async function seek(page: Page, selector: string, to: number): Promise<number> {
  return page.$eval(
    selector,
    (el, target) =>
      new Promise<number>((resolve, reject) => {
        const v = el as HTMLMediaElement
        const timer = setTimeout(() => reject(new Error(`no seeked event; readyState ${v.readyState}, error ${v.error?.message ?? 'none'}`)), 30_000)
        v.addEventListener(
          'seeked',
          () => {
            clearTimeout(timer)
            resolve(v.currentTime)
          },
          { once: true }
        )
        v.currentTime = target
      }),
    to
  )
}

/** Click the play button of the row whose name cell is exactly `name`. */
async function playRow(page: Page, table: string, name: string): Promise<void> {
  const row = page.locator(`${table} tr`).filter({ has: page.locator('td.name', { hasText: name }) })
  await row.locator('button.play').click()
}

test('Chromium: the page lists the library as text, plays an H.264 video, seeks, plays Ogg audio', async (t) => {
  const share = await shareWith(t, [BIG_CLIP, [SMALL_CLIP, EVIL]])
  await fs.copyFile(path.join(AUDIO_DIR, 'track1.ogg'), path.join(share, 'track1.ogg'))
  const node = await startNode(t, { shares: [share] })
  const web = await startWeb(t, node)
  const { page, dialogs, errors } = await browser(t)
  await page.goto(web.url + '/')

  const names = await page.$$eval('#library td.name', (tds) => tds.map((td) => td.textContent))
  t.deepEqual(names.sort(), [EVIL, BIG_CLIP, 'track1.ogg'].sort())
  t.is(await page.locator('img[src="x"]').count(), 0, 'the peer-chosen name did not become an <img>')

  const canPlay = await page.evaluate(() => document.createElement('video').canPlayType('video/mp4; codecs="avc1.640028"'))
  t.log(`Chromium canPlayType H.264 High: ${canPlay}`)
  await playRow(page, '#library', BIG_CLIP)
  const cid = node.library.entries().find((e) => e.name === BIG_CLIP)!.cid
  t.is(await page.$eval('#video', (v) => (v as HTMLVideoElement).src), `${web.url}/media/${cid}`)
  t.true((await playsPast(page, '#video', 0)) > 0, 'video currentTime > 0')
  t.true(await page.$eval('#video', (v) => (v as HTMLVideoElement).videoWidth === 320), 'frames decoded at 320×180')
  const landed = await seek(page, '#video', 8)
  t.true(Math.abs(landed - 8) < 0.5, `seek to 8 s landed at ${landed}`)
  t.true((await playsPast(page, '#video', 8)) > 8, 'plays on after the seek')

  await playRow(page, '#library', EVIL)
  t.true((await playsPast(page, '#video', 0)) > 0, 'the oddly named file plays too')
  t.is(await page.$eval('#now', (p) => p.textContent), EVIL)

  await playRow(page, '#library', 'track1.ogg')
  t.true(await page.$eval('#video', (v) => (v as HTMLVideoElement).hidden))
  t.true((await playsPast(page, '#audio', 0)) > 0, 'Ogg Vorbis plays in the <audio> element')
  const landedAudio = await seek(page, '#audio', 20)
  t.true(Math.abs(landedAudio - 20) < 0.5, `audio seek landed at ${landedAudio}`)

  t.deepEqual(dialogs, [], 'no script ran from a file name')
  t.deepEqual(errors, [])
})

test('Chromium: a network search result plays from /stream/ while it downloads, and a seek lands', async (t) => {
  // 150 kB/s: the 4.3 MB clip takes ~29 s to download; playback and the seek happen before that.
  const seeder = await startNode(t, {
    shares: [
      await shareWith(t, [
        [BIG_CLIP, 'concert clip.mp4'],
        [SMALL_CLIP, 'other.mp4']
      ])
    ],
    rateLimit: 150_000
  })
  const viewer = await startNode(t)
  await viewer.join(seeder.id)
  const web = await startWeb(t, viewer, { searchTimeoutMs: 1000 })
  const { page, dialogs, errors } = await browser(t)
  await page.goto(web.url + '/')
  t.is(await page.locator('#library td.name').count(), 0)

  await page.fill('#q', 'concert')
  await page.click('#search button[type=submit]')
  await page.waitForFunction(() => document.getElementById('status')?.textContent?.startsWith('done'), undefined, { timeout: 15_000 })
  t.deepEqual(await page.$$eval('#results td.name', (tds) => tds.map((td) => td.textContent)), ['concert clip.mp4'])
  t.is(await page.$eval('#results td.muted', (td) => td.textContent), seeder.id)

  await playRow(page, '#results', 'concert clip.mp4')
  t.regex(await page.$eval('#video', (v) => (v as HTMLVideoElement).src), /\/stream\/[0-9a-f]{64}\?holder=/)
  const at = await playsPast(page, '#video', 0)
  const d = [...viewer.downloads.values()][0]!
  t.log(`playing at ${at.toFixed(2)} s with ${d.received} of ${d.size} bytes downloaded`)
  t.is(d.state, 'downloading', 'playback started before the download finished')
  const landed = await seek(page, '#video', 9)
  t.log(`seek landed at ${landed.toFixed(2)} s with ${d.received} of ${d.size} bytes downloaded (${d.state})`)
  t.true(Math.abs(landed - 9) < 0.5, `seek to 9 s landed at ${landed}`)
  t.is(d.state, 'downloading', 'the seek landed before the download finished')
  t.true((await playsPast(page, '#video', 9)) > 9)
  t.deepEqual(dialogs, [])
  t.deepEqual(errors, [])
})
